using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace Ensemble.Jobs.Git;

/// <summary>
/// One git invocation: the subcommand and its arguments, plus the repository and <c>-c</c> settings placed in front.
/// Secrets travel only in <see cref="Environment"/>; <see cref="Secrets"/> are masked in errors.
/// </summary>
internal sealed record GitCommand(IReadOnlyList<string> Arguments)
{
    /// <summary>Passed as <c>--git-dir</c>; null to let git find the repository from the working directory.</summary>
    public string? GitDirectory { get; init; }

    /// <summary><c>key=value</c> pairs passed with <c>-c</c>; never a secret, since arguments are visible to every local user.</summary>
    public IReadOnlyList<string> Config { get; init; } = [];

    public string? WorkingDirectory { get; init; }

    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    public IReadOnlyList<string> Secrets { get; init; } = [];

    /// <summary>
    /// Ignore the machine's system and global git config (credential helpers, url rewrites, colour, diff settings).
    /// Off only for commands on a user's own checkout, whose ignore rules must apply.
    /// </summary>
    public bool IsolateConfig { get; init; } = true;

    /// <summary>Text fed to git's standard input; it is closed right away when null so git never waits on it.</summary>
    public byte[]? StandardInput { get; init; }
}

internal sealed record GitResult(int ExitCode, byte[] StandardOutput, string StandardError)
{
    public string OutputText => Encoding.UTF8.GetString(StandardOutput);
}

/// <summary>
/// Runs the git CLI without a shell: arguments through <see cref="ProcessStartInfo.ArgumentList"/>, stdout and
/// stderr drained concurrently (no pipe deadlock on large outputs), the whole process tree killed on cancellation.
/// </summary>
internal static class GitProcess
{
    private const int MaxErrorChars = 4000;

    public static async Task<GitResult> RunAsync(GitCommand command, CancellationToken ct)
    {
        using var output = new MemoryStream();
        var (exitCode, error) = await RunStreamingAsync(
            command,
            command.StandardInput is { } input ? (stdin, token) => stdin.WriteAsync(input, token).AsTask() : null,
            (stdout, token) => stdout.CopyToAsync(output, token),
            ct).ConfigureAwait(false);
        return new GitResult(exitCode, output.ToArray(), error);
    }

    /// <summary>Runs git and throws a <see cref="GitException"/> (token masked) unless it exits with one of <paramref name="okExitCodes"/>.</summary>
    public static async Task<GitResult> RunCheckedAsync(GitCommand command, CancellationToken ct, params int[] okExitCodes)
    {
        var result = await RunAsync(command, ct).ConfigureAwait(false);
        var ok = okExitCodes.Length == 0 ? result.ExitCode == 0 : okExitCodes.Contains(result.ExitCode);
        return ok ? result : throw Failure(command, result.ExitCode, result.StandardError);
    }

    /// <summary>
    /// Runs git with caller-provided stdin writer and stdout reader, both running concurrently with stderr draining.
    /// Returns the exit code and (unmasked) stderr; callers build errors with <see cref="Failure"/>.
    /// </summary>
    public static async Task<(int ExitCode, string StandardError)> RunStreamingAsync(
        GitCommand command,
        Func<Stream, CancellationToken, Task>? writeInput,
        Func<Stream, CancellationToken, Task> readOutput,
        CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        using var process = Start(command);

        using var killOnCancel = ct.Register(() => KillTree(process));
        var stderrTask = process.StandardError.ReadToEndAsync(CancellationToken.None);
        var stdinTask = WriteInputAsync(process.StandardInput.BaseStream, writeInput, ct);
        var stdoutTask = readOutput(process.StandardOutput.BaseStream, ct);
        try
        {
            await Task.WhenAll(stdinTask, stdoutTask).ConfigureAwait(false);
        }
        catch
        {
            // A failing reader (or cancellation) must not leave git running with nobody draining its pipes.
            KillTree(process);
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
            throw;
        }

        await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        var stderr = await stderrTask.ConfigureAwait(false);
        ct.ThrowIfCancellationRequested();
        return (process.ExitCode, stderr);
    }

    /// <summary>Starts git for <paramref name="command"/> (<see cref="StartInfo"/>), its three streams redirected.</summary>
    internal static Process Start(GitCommand command)
    {
        var process = new Process { StartInfo = StartInfo(command) };
        try
        {
            process.Start();
            return process;
        }
        catch (Win32Exception e)
        {
            process.Dispose();
            throw new GitException("Could not start git: is it installed and on PATH?", e);
        }
    }

    /// <summary>How git is started for <paramref name="command"/>: no shell, isolated config, a scrubbed environment.</summary>
    private static ProcessStartInfo StartInfo(GitCommand command)
    {
        var startInfo = new ProcessStartInfo("git")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = command.WorkingDirectory ?? string.Empty,
        };
        if (command.GitDirectory is not null)
        {
            startInfo.ArgumentList.Add($"--git-dir={command.GitDirectory}");
        }

        // No credential helper may answer for us: the token comes only from the environment.
        foreach (var setting in command.Config.Prepend("credential.helper="))
        {
            startInfo.ArgumentList.Add("-c");
            startInfo.ArgumentList.Add(setting);
        }

        foreach (var argument in command.Arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        ConfigureEnvironment(startInfo.Environment, command);
        return startInfo;
    }

    /// <summary>
    /// Writes each line of <paramref name="lines"/> (ASCII: object names) to git's standard input as it comes, flushing
    /// whenever none is waiting, until the channel completes: for a <c>cat-file --batch</c> fed while its answers are read.
    /// The stream stays open (a pooled cat-file goes on serving; <see cref="RunStreamingAsync"/> closes its own).
    /// </summary>
    public static async Task WriteLinesAsync(Stream stdin, System.Threading.Channels.ChannelReader<string> lines, CancellationToken ct)
    {
        var line = new byte[128];
        var buffered = new BufferedStream(stdin, 1 << 14); // not disposed: that would close stdin
        while (await lines.WaitToReadAsync(ct).ConfigureAwait(false))
        {
            while (lines.TryRead(out var text))
            {
                if (text.Length + 1 > line.Length)
                {
                    line = new byte[text.Length + 1];
                }
                var length = Encoding.ASCII.GetBytes(text, line);
                line[length] = (byte)'\n';
                await buffered.WriteAsync(line.AsMemory(0, length + 1), ct).ConfigureAwait(false);
            }
            await buffered.FlushAsync(ct).ConfigureAwait(false);
        }
    }

    public static GitException Failure(GitCommand command, int exitCode, string stderr)
    {
        var detail = stderr.Trim();
        if (detail.Length > MaxErrorChars)
        {
            detail = detail[..MaxErrorChars] + " …";
        }

        var message = $"git {Describe(command)} failed with exit code {exitCode}: {detail}";
        return new GitException(Mask(message, command.Secrets), exitCode);
    }

    /// <summary>The subcommand and its arguments, for messages.</summary>
    public static string Describe(GitCommand command) => Mask(string.Join(' ', command.Arguments), command.Secrets);

    public static string Mask(string text, IReadOnlyList<string> secrets)
    {
        foreach (var secret in secrets.Where(s => s.Length > 0).OrderByDescending(s => s.Length))
        {
            text = text.Replace(secret, "***", StringComparison.Ordinal);
        }

        return text;
    }

    private static void ConfigureEnvironment(IDictionary<string, string?> environment, GitCommand command)
    {
        // Inherited GIT_* variables could redirect the repository (GIT_DIR), inject config (GIT_CONFIG_*) or
        // dump HTTP headers (GIT_TRACE_CURL); none of them is ours to honour.
        foreach (var key in environment.Keys.Where(k => k.StartsWith("GIT_", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            environment.Remove(key);
        }

        environment.Remove("SSH_ASKPASS");
        environment["GIT_TERMINAL_PROMPT"] = "0";
        environment["GIT_ASKPASS"] = string.Empty; // set but empty: git asks no helper program
        environment["GCM_INTERACTIVE"] = "never";
        environment["LC_ALL"] = "C";
        if (command.IsolateConfig)
        {
            environment["GIT_CONFIG_NOSYSTEM"] = "1";
            environment["GIT_CONFIG_GLOBAL"] = OperatingSystem.IsWindows() ? "NUL" : "/dev/null";
        }

        foreach (var (key, value) in command.Environment)
        {
            environment[key] = value;
        }
    }

    private static async Task WriteInputAsync(Stream stdin, Func<Stream, CancellationToken, Task>? writeInput, CancellationToken ct)
    {
        try
        {
            if (writeInput is not null)
            {
                await writeInput(stdin, ct).ConfigureAwait(false);
            }
        }
        catch (IOException)
        {
            // git exited before reading everything (broken pipe); its exit code and stderr tell why.
        }
        finally
        {
            try
            {
                await stdin.DisposeAsync().ConfigureAwait(false);
            }
            catch (IOException)
            {
                // Same broken pipe, seen while flushing.
            }
        }
    }

    private static void KillTree(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
        catch (Win32Exception)
        {
            // Exiting while we tried; nothing left to kill.
        }
    }
}
