using System.Diagnostics;
using System.Text;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Git;
using Microsoft.Extensions.Logging;

namespace Ensemble.Tests.Git;

/// <summary>
/// A temporary directory holding "remote" repositories (plain local repos served through a file:// GitUrl) and an
/// Ensemble work directory for mirrors.
/// </summary>
internal sealed class GitSandbox : IDisposable
{
    public GitSandbox()
    {
        Root = Path.Combine(Path.GetTempPath(), "ensemble-git-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(RemotesRoot);
    }

    public string Root { get; }

    public string RemotesRoot => Path.Combine(Root, "remotes");

    public string WorkDirectory => Path.Combine(Root, "work");

    public GitMirrorOptions Options => new(WorkDirectory, new Uri(RemotesRoot + "/").AbsoluteUri);

    public GitMirror CreateMirror(ILogger<GitMirror>? logger = null) =>
        new(Options, logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger<GitMirror>.Instance);

    public TestRepository CreateRemote(string owner = "acme", string name = "infra") =>
        TestRepository.Init(Path.Combine(RemotesRoot, owner, name + ".git"));

    public string NewDirectoryPath(string name) => Path.Combine(Root, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is not worth failing a test for.
        }
    }
}

/// <summary>A non-bare repository driven with the git CLI, for building test histories.</summary>
internal sealed class TestRepository
{
    private TestRepository(string path) => Path = path;

    public string Path { get; }

    public static TestRepository Init(string path)
    {
        Directory.CreateDirectory(path);
        TestGit.Run(path, "init", "--quiet", "--initial-branch=main");
        return new TestRepository(path);
    }

    public TestRepository Write(string relativePath, string content) => WriteBytes(relativePath, Encoding.UTF8.GetBytes(content));

    public TestRepository WriteBytes(string relativePath, byte[] content)
    {
        var full = System.IO.Path.Combine(Path, relativePath);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        File.WriteAllBytes(full, content);
        return this;
    }

    public TestRepository Delete(string relativePath)
    {
        File.Delete(System.IO.Path.Combine(Path, relativePath));
        return this;
    }

    public TestRepository Move(string from, string to)
    {
        var target = System.IO.Path.Combine(Path, to);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
        File.Move(System.IO.Path.Combine(Path, from), target);
        return this;
    }

    public string Commit(string message)
    {
        Git("add", "--all");
        Git("-c", "user.name=Test", "-c", "user.email=test@example.com", "commit", "--quiet", "--allow-empty", "-m", message);
        return Head;
    }

    public string Head => Git("rev-parse", "HEAD").Trim();

    public string Git(params string[] arguments) => TestGit.Run(Path, arguments);
}

internal static class TestGit
{
    public static string Run(string workingDirectory, params string[] arguments) =>
        Encoding.UTF8.GetString(RunBytes(workingDirectory, null, arguments));

    public static byte[] RunBytes(string workingDirectory, byte[]? input, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo("git")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        startInfo.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        startInfo.Environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
        using var process = Process.Start(startInfo)!;
        var stderr = process.StandardError.ReadToEndAsync();
        using (var stdin = process.StandardInput.BaseStream)
        {
            if (input is not null)
            {
                stdin.Write(input);
            }
        }

        using var output = new MemoryStream();
        process.StandardOutput.BaseStream.CopyTo(output);
        process.WaitForExit();
        return process.ExitCode == 0
            ? output.ToArray()
            : throw new InvalidOperationException($"git {string.Join(' ', arguments)} failed: {stderr.Result}");
    }
}

/// <summary>Keeps every formatted log message and exception text, to prove what never reaches the logs.</summary>
internal sealed class CapturingLogger<T> : ILogger<T>
{
    private readonly List<string> _entries = [];

    public IReadOnlyList<string> Entries
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries];
            }
        }
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var values = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(";", pairs.Select(p => $"{p.Key}={p.Value}")) : "";
        lock (_entries)
        {
            _entries.Add($"{logLevel}: {formatter(state, exception)} | {values} | {exception}");
        }
    }
}

internal static class Repos
{
    public static readonly RepoRef Infra = new(1, "acme", "infra");
}
