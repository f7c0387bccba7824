using System.Diagnostics;

namespace Ensemble.Tests.EndToEnd;

/// <summary>A real git repository on disk that plays the GitHub-hosted repo: Ensemble clones it through a file:// GitUrl.</summary>
public sealed class TestRepository
{
    private TestRepository(string root, string owner, string name)
    {
        Owner = owner;
        Name = name;
        Directory = Path.Combine(root, owner, name + ".git");
        System.IO.Directory.CreateDirectory(Directory);
    }

    public string Owner { get; }
    public string Name { get; }
    public string FullName => $"{Owner}/{Name}";
    public string Directory { get; }

    public static TestRepository Create(string root, string owner, string name)
    {
        var repo = new TestRepository(root, owner, name);
        repo.Git("init", "-q", "-b", "main");
        repo.Git("config", "user.name", "Test Author");
        repo.Git("config", "user.email", "author@example.com");
        repo.Git("config", "commit.gpgsign", "false");
        return repo;
    }

    public TestRepository Write(string path, string content)
    {
        var full = Path.Combine(Directory, path);
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
        return this;
    }

    public TestRepository Delete(string path)
    {
        var full = Path.Combine(Directory, path);
        if (System.IO.Directory.Exists(full))
        {
            System.IO.Directory.Delete(full, recursive: true);
        }
        else
        {
            File.Delete(full);
        }
        return this;
    }

    public string Commit(string message)
    {
        Git("add", "-A");
        Git("commit", "-q", "--allow-empty", "-m", message);
        return Head();
    }

    public string Head() => Git("rev-parse", "HEAD").Trim();

    public void Checkout(string branch, bool create = false)
    {
        if (create)
        {
            Git("checkout", "-q", "-b", branch);
        }
        else
        {
            Git("checkout", "-q", branch);
        }
    }

    /// <summary>GitHub keeps every PR's head at refs/pull/N/head; Ensemble fetches that ref.</summary>
    public void SetPullRef(int number, string sha) => Git("update-ref", $"refs/pull/{number}/head", sha);

    public string Git(params string[] args)
    {
        var start = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Directory };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"git {string.Join(' ', args)} failed: {stderr}");
        }
        return stdout.Result;
    }
}
