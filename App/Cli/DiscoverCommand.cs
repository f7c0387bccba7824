using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Ensemble.Jobs.Config;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Discovery;
using Ensemble.Jobs.Git;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ensemble.App.Cli;

/// <summary>
/// <c>discover --repo &lt;path&gt; --base &lt;rev&gt; [--head &lt;rev&gt;] [--json]</c>: the projects a change affects and why,
/// computed as the App would (discovery plus <c>.ensemble.yml</c>) from a local clone with the git CLI; no GitHub
/// App, database or server. With <c>--head</c>: what <c>base...head</c> changes (the pull request view). Without:
/// the working tree, untracked files included, against the base.
/// </summary>
public static class DiscoverCommand
{
    private const string Usage = "usage: discover --repo <path> --base <rev> [--head <rev>] [--json]";
    private const string ConfigFile = ".ensemble.yml";

    /// <summary>0: done (also with no project); 1: git failed or .ensemble.yml is invalid; 2: bad arguments.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        if (ParseArguments(args, out var error) is not { } options)
        {
            await stderr.WriteLineAsync($"discover: {error}\n{Usage}");
            return 2;
        }

        ConfiguredResult result;
        string description;
        try
        {
            (result, description) = await DiscoverAsync(options, CancellationToken.None);
        }
        catch (Exception e) when (e is GitException or ArgumentException or IOException)
        {
            await stderr.WriteLineAsync($"discover: {e.Message}");
            return 1;
        }

        if (result.Errors.Count > 0)
        {
            await stderr.WriteLineAsync($"discover: {ConfigFile} is invalid, so nothing would be planned:");
            foreach (var message in result.Errors)
            {
                await stderr.WriteLineAsync($"  - {message}");
            }

            return 1;
        }

        if (options.Json)
        {
            await stdout.WriteLineAsync(ToJson(result.Projects));
            foreach (var line in Notes(result))
            {
                await stderr.WriteLineAsync(line);
            }
        }
        else
        {
            await stdout.WriteAsync(ToText(result, description));
        }

        return 0;
    }

    private sealed record Options(string Repo, string Base, string? Head, bool Json);

    private static Options? ParseArguments(string[] args, out string error)
    {
        string? repo = null, baseRev = null, head = null;
        var json = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--json":
                    json = true;
                    continue;
                case "--repo" or "--base" or "--head" when i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal):
                    var value = args[++i];
                    _ = args[i - 1] switch { "--repo" => repo = value, "--base" => baseRev = value, _ => head = value };
                    continue;
                case "--repo" or "--base" or "--head":
                    error = $"{args[i]} needs a value";
                    return null;
                default:
                    error = $"unknown argument '{args[i]}'";
                    return null;
            }
        }

        error = repo is null ? "--repo is required" : baseRev is null ? "--base is required" : "";
        return error.Length == 0 ? new Options(repo!, baseRev!, head, json) : null;
    }

    private static async Task<(ConfiguredResult, string)> DiscoverAsync(Options options, CancellationToken ct)
    {
        var start = Path.GetFullPath(options.Repo);
        if (!Directory.Exists(start))
        {
            throw new ArgumentException($"{start} is not a directory.");
        }

        var git = new LocalGit((await LocalGit.RunTextAsync(start, ["rev-parse", "--show-toplevel"], ct)).TrimEnd('\n'));
        var baseSha = await git.ResolveAsync(options.Base, ct);
        var defaultConfig = EnsembleConfig.Parse(await git.ReadFileAtAsync(baseSha, ConfigFile, ct));

        IReadOnlyList<ChangedFile> changes;
        RepoSnapshot head, baseSnapshot;
        ConfigResult headConfig;
        string description;
        if (options.Head is { } headRev)
        {
            var headSha = await git.ResolveAsync(headRev, ct);
            var mergeBase = await git.MergeBaseAsync(baseSha, headSha, ct)
                ?? throw new ArgumentException($"{options.Base} and {headRev} share no history.");
            changes = await git.DiffAsync(mergeBase, headSha, ct);
            head = await git.SnapshotAsync(headSha, ct);
            baseSnapshot = mergeBase == headSha ? head : await git.SnapshotAsync(mergeBase, ct);
            headConfig = EnsembleConfig.Parse(await git.ReadFileAtAsync(headSha, ConfigFile, ct));
            description = $"{options.Base} ({Short(mergeBase)} merge base) → {headRev} ({Short(headSha)})";
        }
        else
        {
            // GitMirror's working-tree diff uses a private index, so the user's staging area stays as it was.
            var mirror = new GitMirror(new GitMirrorOptions(Path.GetTempPath(), "https://github.com/"), NullLogger<GitMirror>.Instance);
            changes = await mirror.DiffWorkingTreeAsync(git.Root, baseSha, ct);
            head = await git.WorkingTreeSnapshotAsync(ct);
            baseSnapshot = await git.SnapshotAsync(baseSha, ct);
            var configPath = Path.Combine(git.Root, ConfigFile);
            headConfig = EnsembleConfig.Parse(File.Exists(configPath) ? await File.ReadAllTextAsync(configPath, ct) : null);
            description = $"{options.Base} ({Short(baseSha)}) → working tree";
        }

        var config = EffectiveConfig.Merge(defaultConfig, headConfig);
        var result = ConfiguredDiscovery.Apply(config, head, baseSnapshot, changes);
        return (result with { Problems = [.. config.Notices, .. result.Problems] }, description);
    }

    private static string Short(string sha) => sha[..Math.Min(7, sha.Length)];

    private static string ToJson(IReadOnlyList<AffectedProject> projects)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartArray();
            foreach (var project in projects)
            {
                writer.WriteStartObject();
                writer.WriteString("project", project.Path);
                writer.WriteBoolean("destroy", project.Destroy);
                writer.WriteStartArray("reasons");
                foreach (var reason in project.Reasons)
                {
                    writer.WriteStringValue(reason);
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static IEnumerable<string> Notes(ConfiguredResult result) =>
        result.Skipped.Select(s => $"skipped {s.Path}: {s.Reason}").Concat(result.Problems.Select(p => $"problem: {p}"));

    private static string ToText(ConfiguredResult result, string description)
    {
        var text = new StringBuilder();
        var count = result.Projects.Count;
        text.AppendLine(count == 0
            ? $"No Terraform projects changed ({description})."
            : $"{count} project{(count == 1 ? "" : "s")} affected ({description}):");
        foreach (var project in result.Projects)
        {
            text.AppendLine().AppendLine(project.Destroy ? $"{project.Path} (destroy)" : project.Path);
            foreach (var reason in project.Reasons)
            {
                text.AppendLine($"  - {reason}");
            }
        }

        if (result.Skipped.Count > 0)
        {
            text.AppendLine().AppendLine("Skipped:");
            foreach (var skipped in result.Skipped)
            {
                text.AppendLine($"  - {skipped.Path}: {skipped.Reason}");
            }
        }

        if (result.Problems.Count > 0)
        {
            text.AppendLine().AppendLine("Problems:");
            foreach (var problem in result.Problems)
            {
                text.AppendLine($"  - {problem}");
            }
        }

        return text.ToString();
    }

    /// <summary>Reads a local clone with the git CLI: no shell, arguments as a list, the user's own config honoured.</summary>
    private sealed class LocalGit(string root)
    {
        public string Root { get; } = root;

        public async Task<string> ResolveAsync(string revision, CancellationToken ct)
        {
            if (revision.Length == 0 || revision[0] == '-')
            {
                throw new ArgumentException($"'{revision}' is not a revision.");
            }

            var result = await RunAsync(Root, ["rev-parse", "--verify", "--end-of-options", revision + "^{commit}"], null, ct);
            return result.ExitCode == 0
                ? Encoding.UTF8.GetString(result.Output).Trim()
                : throw new GitException($"'{revision}' is not a commit in {Root}: {result.Error.Trim()}");
        }

        public async Task<string?> MergeBaseAsync(string a, string b, CancellationToken ct)
        {
            var result = await RunAsync(Root, ["merge-base", a, b], null, ct);
            return result.ExitCode == 0 ? Encoding.UTF8.GetString(result.Output).Trim() : result.ExitCode == 1 ? null : throw Failure(["merge-base"], result);
        }

        public async Task<IReadOnlyList<ChangedFile>> DiffAsync(string from, string to, CancellationToken ct)
        {
            var output = await RunCheckedAsync(["-c", "diff.renameLimit=20000", "diff", "--name-status", "-z", "--find-renames", "--no-color",
                "--no-ext-diff", "--no-relative", from, to, "--"], null, ct);
            var fields = Encoding.UTF8.GetString(output).Split('\0', StringSplitOptions.RemoveEmptyEntries);
            var changes = new List<ChangedFile>();
            for (var i = 0; i + 1 < fields.Length;)
            {
                var status = fields[i++];
                changes.Add(status[0] switch
                {
                    'A' => new ChangedFile(fields[i++], ChangeKind.Added),
                    'D' => new ChangedFile(fields[i++], ChangeKind.Deleted),
                    'T' => new ChangedFile(fields[i++], ChangeKind.TypeChanged),
                    'R' => new ChangedFile(fields[(i += 2) - 1], ChangeKind.Renamed, fields[i - 2]),
                    'C' => new ChangedFile(fields[(i += 2) - 1], ChangeKind.Added),
                    _ => new ChangedFile(fields[i++], ChangeKind.Modified),
                });
            }

            return changes;
        }

        public async Task<string?> ReadFileAtAsync(string sha, string path, CancellationToken ct)
        {
            var result = await RunAsync(Root, ["cat-file", "blob", $"{sha}:{path}"], null, ct);
            return result.ExitCode == 0 ? Encoding.UTF8.GetString(result.Output) : null;
        }

        public async Task<RepoSnapshot> SnapshotAsync(string sha, CancellationToken ct)
        {
            var listing = await RunCheckedAsync(["ls-tree", "-r", "-z", "--full-tree", sha], null, ct);
            var paths = new List<string>();
            var tfBlobs = new List<(string Path, string Id)>();
            foreach (var record in Encoding.UTF8.GetString(listing).Split('\0', StringSplitOptions.RemoveEmptyEntries))
            {
                // "mode type id\tpath"; submodules (type commit) are not files.
                var tab = record.IndexOf('\t', StringComparison.Ordinal);
                var meta = record[..tab].Split(' ');
                if (meta[1] != "blob")
                {
                    continue;
                }

                var path = record[(tab + 1)..];
                paths.Add(path);
                if (ConfigurationFiles.IsConfiguration(path))
                {
                    tfBlobs.Add((path, meta[2]));
                }
            }

            var contents = await ReadBlobsAsync(tfBlobs.Select(b => b.Id).Distinct(StringComparer.Ordinal).ToList(), ct);
            var facts = tfBlobs.ToDictionary(b => b.Path, b => ConfigurationFiles.Scan(b.Path, contents[b.Id]), StringComparer.Ordinal);
            return RepoSnapshot.Build(facts, paths);
        }

        public async Task<RepoSnapshot> WorkingTreeSnapshotAsync(CancellationToken ct)
        {
            // Tracked and untracked files, ignored ones left out: what a commit of everything would hold.
            var listing = await RunCheckedAsync(["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--full-name"], null, ct);
            var paths = Encoding.UTF8.GetString(listing).Split('\0', StringSplitOptions.RemoveEmptyEntries)
                .Distinct(StringComparer.Ordinal)
                .Where(p => File.Exists(Path.Combine(Root, p)))
                .ToList();
            var facts = new Dictionary<string, HclFacts>(StringComparer.Ordinal);
            foreach (var path in paths.Where(ConfigurationFiles.IsConfiguration))
            {
                facts[path] = ConfigurationFiles.Scan(path, await File.ReadAllTextAsync(Path.Combine(Root, path), ct));
            }

            return RepoSnapshot.Build(facts, paths);
        }

        private async Task<Dictionary<string, string>> ReadBlobsAsync(IReadOnlyList<string> ids, CancellationToken ct)
        {
            var contents = new Dictionary<string, string>(ids.Count, StringComparer.Ordinal);
            if (ids.Count == 0)
            {
                return contents;
            }

            var output = await RunCheckedAsync(["cat-file", "--batch"], Encoding.ASCII.GetBytes(string.Concat(ids.Select(id => id + "\n"))), ct);
            var position = 0;
            foreach (var _ in ids)
            {
                // "<id> blob <size>\n<content>\n"
                var newline = Array.IndexOf(output, (byte)'\n', position);
                var header = Encoding.ASCII.GetString(output, position, newline - position).Split(' ');
                var size = int.Parse(header[2], System.Globalization.CultureInfo.InvariantCulture);
                contents[header[0]] = Encoding.UTF8.GetString(output, newline + 1, size);
                position = newline + 1 + size + 1;
            }

            return contents;
        }

        private async Task<byte[]> RunCheckedAsync(IReadOnlyList<string> arguments, byte[]? input, CancellationToken ct)
        {
            var result = await RunAsync(Root, arguments, input, ct);
            return result.ExitCode == 0 ? result.Output : throw Failure(arguments, result);
        }

        public static async Task<string> RunTextAsync(string directory, IReadOnlyList<string> arguments, CancellationToken ct)
        {
            var result = await RunAsync(directory, arguments, null, ct);
            return result.ExitCode == 0 ? Encoding.UTF8.GetString(result.Output) : throw Failure(arguments, result);
        }

        private static GitException Failure(IReadOnlyList<string> arguments, (int ExitCode, byte[] Output, string Error) result) =>
            new($"git {string.Join(' ', arguments)} failed (exit {result.ExitCode}): {result.Error.Trim()}");

        private static async Task<(int ExitCode, byte[] Output, string Error)> RunAsync(
            string directory, IReadOnlyList<string> arguments, byte[]? input, CancellationToken ct)
        {
            var startInfo = new ProcessStartInfo("git")
            {
                WorkingDirectory = directory,
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var argument in arguments)
            {
                startInfo.ArgumentList.Add(argument);
            }

            // Messages are matched by people, not code, but stay stable in English; no prompt may block a CLI.
            startInfo.Environment["LC_ALL"] = "C";
            startInfo.Environment["GIT_TERMINAL_PROMPT"] = "0";
            using var process = new Process { StartInfo = startInfo };
            try
            {
                process.Start();
            }
            catch (Win32Exception e)
            {
                throw new GitException("Could not start git: is it installed and on PATH?", e);
            }

            var error = process.StandardError.ReadToEndAsync(ct);
            var write = Task.Run(async () =>
            {
                await using var stdin = process.StandardInput.BaseStream;
                if (input is not null)
                {
                    await stdin.WriteAsync(input, ct);
                }
            }, ct);
            using var output = new MemoryStream();
            await process.StandardOutput.BaseStream.CopyToAsync(output, ct);
            await write;
            await process.WaitForExitAsync(ct);
            return (process.ExitCode, output.ToArray(), await error);
        }
    }
}
