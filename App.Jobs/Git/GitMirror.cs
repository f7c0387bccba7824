using System.Diagnostics;
using System.Text;
using Ensemble.Jobs.Core;
using Microsoft.Extensions.Logging;

namespace Ensemble.Jobs.Git;

/// <summary>
/// One bare mirror per repository under <c>{WorkDirectory}/mirrors/{owner}/{repo}.git</c>, fetched incrementally
/// with the real git CLI, and the reads Ensemble needs from it: changed files between a merge base and a head,
/// a commit's tree with blob ids, blob contents in bulk, tree hashes of directories, and clean checkouts.
/// </summary>
/// <remarks>
/// Fetches into one mirror are serialised (in process and across processes); reads and checkouts run concurrently.
/// An installation token reaches git only through its environment, never a URL, an argument or a log line.
/// </remarks>
public sealed class GitMirror
{
    // Inexact rename detection is quadratic; this covers large PRs while bounding the worst case. Exact renames
    // are found at any size, and past the limit a rename still shows as a deletion plus an addition.
    private const int RenameLimit = 20_000;

    private readonly string _mirrorsRoot;
    private readonly string _discoveryRoot;
    private readonly string _gitUrl;
    private readonly ILogger<GitMirror> _logger;

    public GitMirror(GitMirrorOptions options, ILogger<GitMirror> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        if (string.IsNullOrWhiteSpace(options.WorkDirectory))
        {
            throw new ArgumentException("The work directory (Ensemble:WorkDirectory) must be set.", nameof(options));
        }

        var workDirectory = Path.GetFullPath(options.WorkDirectory);
        _mirrorsRoot = Path.Combine(workDirectory, "mirrors");
        _discoveryRoot = Path.Combine(workDirectory, "discovery");
        _gitUrl = NormalizeGitUrl(options.GitUrl);
        _logger = logger;
    }

    /// <summary>
    /// The mirror's directory. Names are lowercased because GitHub's are case-insensitive: one repository, one mirror.
    /// </summary>
    /// <exception cref="ArgumentException">The owner or name is not a plain GitHub name (e.g. contains '/' or is "..").</exception>
    public string MirrorPath(RepoRef repo)
    {
        ArgumentNullException.ThrowIfNull(repo);
        var owner = GitNames.Segment(repo.Owner, "owner").ToLowerInvariant();
        var name = GitNames.Segment(repo.Name, "repository name").ToLowerInvariant();
        return Path.Combine(_mirrorsRoot, owner, name + ".git");
    }

    /// <summary>
    /// Where discovery keeps what it learnt from this repository's mirror (scanned facts by blob id, commits'
    /// configuration files) across restarts: <c>{WorkDirectory}/discovery/{owner}/{repo}</c>, next to the mirrors.
    /// </summary>
    public string DiscoveryCachePath(RepoRef repo)
    {
        ArgumentNullException.ThrowIfNull(repo);
        var owner = GitNames.Segment(repo.Owner, "owner").ToLowerInvariant();
        var name = GitNames.Segment(repo.Name, "repository name").ToLowerInvariant();
        return Path.Combine(_discoveryRoot, owner, name);
    }

    /// <summary>The URL git fetches from: <c>{GitUrl}{owner}/{repo}.git</c>. It never carries credentials.</summary>
    public string CloneUrl(RepoRef repo)
    {
        ArgumentNullException.ThrowIfNull(repo);
        return $"{_gitUrl}{GitNames.Segment(repo.Owner, "owner")}/{GitNames.Segment(repo.Name, "repository name")}.git";
    }

    /// <summary>
    /// Creates the mirror if missing, fetches <paramref name="refs"/> (each to the same name, forced), then makes sure
    /// every SHA in <paramref name="requiredShas"/> is present, fetching it by id if no fetched ref reaches it.
    /// </summary>
    /// <param name="token">An installation token, or null for public repositories and <c>file://</c> remotes.</param>
    /// <param name="refs">Fully qualified refs such as <c>refs/pull/12/head</c> or <c>refs/heads/main</c>.</param>
    /// <exception cref="GitException">git failed, or a required SHA is not in the remote repository.</exception>
    public async Task FetchAsync(RepoRef repo, string? token, IReadOnlyList<string> refs, IReadOnlyList<string> requiredShas, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(refs);
        ArgumentNullException.ThrowIfNull(requiredShas);
        var mirror = MirrorPath(repo);
        var url = CloneUrl(repo);
        var wantedRefs = refs.Select(GitNames.Ref).Distinct(StringComparer.Ordinal).ToList();
        var wantedShas = requiredShas.Select(s => GitNames.ObjectId(s, nameof(requiredShas))).Distinct(StringComparer.Ordinal).ToList();
        var credentials = GitCredentials.ForToken(_gitUrl, token);

        await using var held = await MirrorLock.AcquireAsync(mirror, ct).ConfigureAwait(false);
        await EnsureMirrorAsync(repo, mirror, url, ct).ConfigureAwait(false);

        var stopwatch = Stopwatch.StartNew();
        if (wantedRefs.Count > 0)
        {
            try
            {
                await RunFetchAsync(mirror, url, wantedRefs.Select(r => $"+{r}:{r}"), credentials, ct).ConfigureAwait(false);
            }
            catch (GitException e)
            {
                GitLog.FetchFailed(_logger, repo.FullName, e.Message);
                throw;
            }
        }

        var missing = await MissingObjectsAsync(mirror, wantedShas, ct).ConfigureAwait(false);
        GitException? lastError = null;
        foreach (var sha in missing)
        {
            // GitHub serves any reachable commit by id; keeping it under a ref protects it from gc.
            GitLog.FetchingSha(_logger, repo.FullName, sha);
            try
            {
                await RunFetchAsync(mirror, url, [$"+{sha}:refs/ensemble/commits/{sha}"], credentials, ct).ConfigureAwait(false);
            }
            catch (GitException e)
            {
                GitLog.FetchShaFailed(_logger, repo.FullName, sha, e.Message);
                lastError = e;
            }
        }

        if (missing.Count > 0)
        {
            missing = await MissingObjectsAsync(mirror, missing, ct).ConfigureAwait(false);
            if (missing.Count > 0)
            {
                var fetched = wantedRefs.Count > 0 ? string.Join(", ", wantedRefs) : "no refs";
                var message = $"Commit {string.Join(", ", missing)} is not in {repo.FullName}: neither the fetched refs ({fetched}) nor a fetch by id brought it.";
                throw lastError is null ? new GitException(message) : new GitException(message, lastError);
            }
        }

        GitLog.Fetched(_logger, repo.FullName, wantedRefs.Count, stopwatch.ElapsedMilliseconds);
    }

    /// <summary>The best common ancestor of two commits, or null when they share no history.</summary>
    public async Task<string?> MergeBaseAsync(RepoRef repo, string a, string b, CancellationToken ct)
    {
        var command = new GitCommand(["merge-base", GitNames.Revision(a, nameof(a)), GitNames.Revision(b, nameof(b))])
        {
            GitDirectory = ExistingMirror(repo),
        };
        var result = await GitProcess.RunCheckedAsync(command, ct, 0, 1).ConfigureAwait(false);
        var sha = result.OutputText.Trim();
        return result.ExitCode == 0 && sha.Length > 0 ? sha : null;
    }

    /// <summary>
    /// Files changed on <paramref name="headSha"/> since it forked from <paramref name="baseSha"/> (git's
    /// <c>base...head</c>): what a pull request changes, without what the base branch did meanwhile.
    /// Renames carry their old path; deletions and type changes (file to symlink) are included.
    /// </summary>
    public async Task<IReadOnlyList<ChangedFile>> DiffAsync(RepoRef repo, string baseSha, string headSha, CancellationToken ct)
    {
        var range = $"{GitNames.Revision(baseSha, nameof(baseSha))}...{GitNames.Revision(headSha, nameof(headSha))}";
        var command = new GitCommand(DiffArguments(range)) { GitDirectory = ExistingMirror(repo), Config = DiffConfig };
        return await RunDiffAsync(command, ct).ConfigureAwait(false);
    }

    /// <summary>Every file (blob) in the commit's tree with its blob id; submodules are left out.</summary>
    public async Task<IReadOnlyList<TreeFile>> ListTreeAsync(RepoRef repo, string sha, CancellationToken ct)
    {
        var command = new GitCommand(["ls-tree", "-r", "-z", "--full-tree", GitNames.Revision(sha, nameof(sha))])
        {
            GitDirectory = ExistingMirror(repo),
        };
        List<TreeFile> files = [];
        // Parsed while git writes: 100,000 files are 10+ MB of output, never held whole.
        var (exitCode, stderr) = await GitProcess.RunStreamingAsync(
            command, null, async (stdout, token) => files = await GitOutput.ReadLsTreeAsync(stdout, token).ConfigureAwait(false), ct)
            .ConfigureAwait(false);
        return exitCode == 0 ? files : throw GitProcess.Failure(command, exitCode, stderr);
    }

    /// <summary>
    /// <see cref="ListTreeAsync"/> and <see cref="ReadBlobsAsync"/> of the files <paramref name="wantContent"/>
    /// selects, in one pass: the blob ids go to a <c>git cat-file --batch</c> while <c>git ls-tree</c> is still
    /// listing, so the two processes overlap instead of running one after the other.
    /// </summary>
    /// <exception cref="GitException">git failed, or a listed blob is not in the mirror.</exception>
    public async Task<(IReadOnlyList<TreeFile> Files, IReadOnlyDictionary<string, byte[]> Contents)> ListTreeWithBlobsAsync(
        RepoRef repo, string sha, Func<TreeFile, bool> wantContent, CancellationToken ct)
    {
        var contents = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var files = await ListTreeWithBlobsAsync(
            repo, sha, null, wantContent, (id, content) => contents[Encoding.ASCII.GetString(id)] = content.ToArray(), ct).ConfigureAwait(false);
        return (files, contents);
    }

    /// <summary>
    /// As <see cref="ListTreeWithBlobsAsync(RepoRef, string, Func{TreeFile, bool}, CancellationToken)"/>, for callers
    /// that want less: only the files whose raw (UTF-8) path <paramref name="keepPath"/> accepts (all when null) are
    /// turned into strings and returned, and each wanted blob goes to <paramref name="onContent"/> as soon as
    /// <c>cat-file</c> has written it (one call at a time, on a pool thread, in the order <paramref name="wantContent"/>
    /// first selected the blob), while the tree is still being listed.
    /// </summary>
    /// <exception cref="GitException">git failed, or a listed blob is not in the mirror.</exception>
    public async Task<IReadOnlyList<TreeFile>> ListTreeWithBlobsAsync(
        RepoRef repo, string sha, Func<ReadOnlySpan<byte>, bool>? keepPath, Func<TreeFile, bool> wantContent,
        GitBlobHandler onContent, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(wantContent);
        ArgumentNullException.ThrowIfNull(onContent);
        var mirror = ExistingMirror(repo);
        var listCommand = new GitCommand(["ls-tree", "-r", "-z", "--full-tree", GitNames.Revision(sha, nameof(sha))]) { GitDirectory = mirror };
        // --buffer: without it cat-file flushes after every object, one pipe write and one wake-up of the reader each.
        var readCommand = new GitCommand(["cat-file", "--batch", "--buffer"]) { GitDirectory = mirror };
        var wanted = System.Threading.Channels.Channel.CreateUnbounded<string>(new() { SingleReader = true, SingleWriter = true });
        var requested = new HashSet<string>(StringComparer.Ordinal);
        var missing = new List<string>();
        List<TreeFile> files = [];

        async Task<(int, string)> ListAsync()
        {
            try
            {
                return await GitProcess.RunStreamingAsync(listCommand, null, async (stdout, token) =>
                    files = await GitOutput.ReadLsTreeAsync(stdout, token, file =>
                    {
                        if (wantContent(file) && requested.Add(file.BlobId))
                        {
                            wanted.Writer.TryWrite(file.BlobId);
                        }
                    }, keepPath).ConfigureAwait(false), ct).ConfigureAwait(false);
            }
            finally
            {
                wanted.Writer.Complete(); // cat-file's input ends with the listing, whether it succeeded or not
            }
        }

        var listing = ListAsync();
        var reading = GitProcess.RunStreamingAsync(
            readCommand,
            (stdin, token) => GitProcess.WriteLinesAsync(stdin, wanted.Reader, token),
            (stdout, token) => Task.Run(() => GitOutput.ReadBatch(stdout, (int?)null, onContent, missing), token),
            ct);
        await Task.WhenAll(listing, reading).ConfigureAwait(false); // both processes finish before any error is thrown
        var (listExit, listError) = await listing.ConfigureAwait(false);
        var (readExit, readError) = await reading.ConfigureAwait(false);
        if (listExit != 0)
        {
            throw GitProcess.Failure(listCommand, listExit, listError);
        }
        if (readExit != 0)
        {
            throw GitProcess.Failure(readCommand, readExit, readError);
        }
        return missing.Count == 0
            ? files
            : throw new GitException($"{missing.Count} blob(s) are not in the mirror of {repo.FullName}: {string.Join(", ", missing.Take(10))}.");
    }

    /// <summary>
    /// Every file whose blob differs between two commits' trees (<c>git diff-tree -r</c>), with modes and blob ids,
    /// renames as a deletion plus an addition: enough to derive one commit's file list from the other's.
    /// With <paramref name="findRenames"/>, renames are detected as <see cref="DiffAsync"/> does (status R, old path
    /// kept), so one process answers both "what changed" and "which blobs does the head have".
    /// </summary>
    public async Task<IReadOnlyList<RawChange>> DiffRawAsync(RepoRef repo, string fromSha, string toSha, CancellationToken ct, bool findRenames = false)
    {
        // Plumbing: no relative paths or colour from any config.
        var command = new GitCommand(
            ["diff-tree", "-r", "-z", "--no-abbrev", findRenames ? "--find-renames" : "--no-renames", "--no-commit-id",
             GitNames.Revision(fromSha, nameof(fromSha)), GitNames.Revision(toSha, nameof(toSha)), "--"])
        {
            GitDirectory = ExistingMirror(repo),
            Config = DiffConfig,
        };
        var result = await GitProcess.RunCheckedAsync(command, ct).ConfigureAwait(false);
        return GitOutput.ParseRawDiff(result.StandardOutput);
    }

    /// <summary>Contents of many blobs, read through one <c>git cat-file --batch</c> process, keyed by (lowercase) blob id.</summary>
    /// <exception cref="GitException">A blob is not in the mirror.</exception>
    public async Task<IReadOnlyDictionary<string, byte[]>> ReadBlobsAsync(RepoRef repo, IReadOnlyCollection<string> blobIds, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(blobIds);
        var mirror = ExistingMirror(repo);
        var ids = blobIds.Select(id => GitNames.ObjectId(id, nameof(blobIds))).Distinct(StringComparer.Ordinal).ToList();
        var contents = new Dictionary<string, byte[]>(ids.Count, StringComparer.Ordinal);
        if (ids.Count == 0)
        {
            return contents;
        }

        var missing = new List<string>();
        // --buffer: one pipe write per buffer, not per object (all input is known up front).
        var command = new GitCommand(["cat-file", "--batch", "--buffer"]) { GitDirectory = mirror };
        var (exitCode, stderr) = await GitProcess.RunStreamingAsync(
            command,
            (stdin, token) => stdin.WriteAsync(Encoding.ASCII.GetBytes(string.Concat(ids.Select(id => id + "\n"))), token).AsTask(),
            // Blocking reads into one buffer, on a pool thread: cheaper than an await per header.
            (stdout, token) => Task.Run(() => GitOutput.ReadBatch(stdout, ids.Count, contents, missing), token),
            ct).ConfigureAwait(false);
        if (exitCode != 0)
        {
            throw GitProcess.Failure(command, exitCode, stderr);
        }

        return missing.Count == 0
            ? contents
            : throw new GitException($"{missing.Count} blob(s) are not in the mirror of {repo.FullName}: {string.Join(", ", missing.Take(10))}.");
    }

    /// <summary>
    /// The object id at <paramref name="path"/> in the commit: a directory's tree hash (equal across commits exactly
    /// when nothing under it changed), a file's blob id, or null when the path does not exist. "." or "" is the root tree.
    /// </summary>
    /// <exception cref="GitException">The commit is not in the mirror.</exception>
    public async Task<string?> TreeHashAsync(RepoRef repo, string sha, string path, CancellationToken ct)
    {
        var hashes = await TreeHashesAsync(repo, sha, [path], ct).ConfigureAwait(false);
        return hashes[path];
    }

    /// <summary><see cref="TreeHashAsync"/> for many paths with one git process, keyed by the paths as given.</summary>
    public async Task<IReadOnlyDictionary<string, string?>> TreeHashesAsync(RepoRef repo, string sha, IReadOnlyCollection<string> paths, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var mirror = ExistingMirror(repo);
        var commit = GitNames.Revision(sha, nameof(sha));
        var requested = paths.Distinct(StringComparer.Ordinal).ToList();
        var inputs = requested.Select(GitNames.RepoPath)
            .Select(p => p.Length == 0 ? $"{commit}^{{tree}}" : $"{commit}:{p}")
            .Prepend($"{commit}^{{commit}}")
            .ToList();
        var command = new GitCommand(["cat-file", "--batch-check"])
        {
            GitDirectory = mirror,
            StandardInput = Encoding.UTF8.GetBytes(string.Concat(inputs.Select(i => i + "\n"))),
        };
        var result = await GitProcess.RunCheckedAsync(command, ct).ConfigureAwait(false);
        var ids = GitOutput.ParseBatchCheck(result.OutputText, inputs);
        if (ids[0] is null)
        {
            throw new GitException($"Commit {commit} is not in the mirror of {repo.FullName}; fetch it first.");
        }

        var hashes = new Dictionary<string, string?>(requested.Count, StringComparer.Ordinal);
        for (var i = 0; i < requested.Count; i++)
        {
            hashes[requested[i]] = ids[i + 1];
        }

        return hashes;
    }

    /// <summary>The files (blobs and symlinks) of a commit below <paramref name="directory"/> (<c>.</c>: all), repo-relative.</summary>
    public async Task<IReadOnlyList<string>> ListFilesAsync(RepoRef repo, string sha, string directory, CancellationToken ct)
    {
        var mirror = ExistingMirror(repo);
        var commit = GitNames.Revision(sha, nameof(sha));
        var under = GitNames.RepoPath(directory);
        List<string> args = ["ls-tree", "-r", "-z", "--name-only", "--full-tree", commit];
        if (under.Length > 0)
        {
            args.AddRange(["--", under]);
        }

        var result = await GitProcess.RunCheckedAsync(new GitCommand(args) { GitDirectory = mirror }, ct).ConfigureAwait(false);
        return result.OutputText.Split('\0', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>
    /// Writes exactly the commit's files (modes and symlinks included, no <c>.git</c>) into
    /// <paramref name="destination"/>, which must not exist or be empty. Reads the mirror only (<see cref="TreeCheckout"/>),
    /// so checkouts of one mirror into different destinations run concurrently.
    /// </summary>
    public Task CheckoutAsync(RepoRef repo, string sha, string destination, CancellationToken ct) =>
        CheckoutAsync(repo, sha, destination, null, ct);

    /// <summary>
    /// <see cref="CheckoutAsync(RepoRef, string, string, CancellationToken)"/> of only <paramref name="paths"/>
    /// (repo-relative files and directories, a directory with everything below it; <c>null</c> for the whole tree).
    /// A path the commit does not have is skipped, not an error: it may be a file a configuration reads but nobody
    /// committed, which terraform itself should report.
    /// </summary>
    public async Task CheckoutAsync(RepoRef repo, string sha, string destination, IReadOnlyList<string>? paths, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(destination);
        var mirror = ExistingMirror(repo);
        var commit = GitNames.Revision(sha, nameof(sha));
        // Literal paths, compared with tree entries: no glob or pathspec magic in a path a pull request chose.
        var pathspecs = paths?.Select(GitNames.RepoPath).ToList();
        if (pathspecs is not null && pathspecs.Exists(p => p.Length == 0))
        {
            pathspecs = null;
        }
        var target = Path.GetFullPath(destination);
        if (File.Exists(target) || (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any()))
        {
            throw new ArgumentException($"Checkout destination '{target}' must be a new or empty directory.", nameof(destination));
        }

        Directory.CreateDirectory(target);
        var checkout = new TreeCheckout(target, pathspecs, TreeCache.Shared, mirror);
        try
        {
            checkout.Start(commit);
            // Complete already when every tree it needed was cached and it wants no file: nothing to ask git.
            if (!checkout.Complete)
            {
                await ReadWithCatFileAsync(mirror, checkout, ct).ConfigureAwait(false);
            }

            if (checkout.CommitMissing)
            {
                // A GitException, as git's own "not a valid object name": the caller fetches and tries again.
                throw new GitException($"Commit {commit} is not in the mirror of {repo.FullName}.");
            }
        }
        catch
        {
            // Never leave a half-written tree that a retry or a plan could mistake for the commit.
            EmptyDirectory(target);
            throw;
        }

        GitLog.CheckedOut(_logger, repo.FullName, commit, target);
    }

    /// <summary>Answers the rest of <paramref name="checkout"/> from a pooled <c>git cat-file --batch</c> of the mirror.</summary>
    private static async Task ReadWithCatFileAsync(string mirror, TreeCheckout checkout, CancellationToken ct)
    {
        var catFile = CatFilePool.Shared.Rent(mirror);
        var reusable = false;
        try
        {
            using (ct.Register(catFile.Kill))
            {
                var reading = Task.Run(() => checkout.ReadAnswers(catFile.Output), CancellationToken.None);
                var writing = checkout.WriteRequestsAsync(catFile.Input, ct);
                await Task.WhenAll(reading, writing).ConfigureAwait(false);
            }

            ct.ThrowIfCancellationRequested();
            if (!checkout.Complete)
            {
                throw new GitException($"git cat-file --batch stopped answering: {catFile.StandardError}");
            }

            // A commit it could not find is about to be fetched: a fresh process looks at the packs anew.
            reusable = !checkout.CommitMissing;
        }
        finally
        {
            CatFilePool.Shared.Return(mirror, catFile, reusable);
        }
    }

    /// <summary>
    /// For a local dry run: changes of the working tree at <paramref name="repoPath"/> (committed or not, untracked
    /// files included, ignored files left out) against <paramref name="baseRev"/>, with renames detected as in
    /// <see cref="DiffAsync"/>. Paths are relative to the repository root. The user's index is not modified
    /// (a private copy is used), though new file contents are stored as objects in the repository.
    /// </summary>
    public async Task<IReadOnlyList<ChangedFile>> DiffWorkingTreeAsync(string repoPath, string baseRev, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(repoPath);
        var revision = GitNames.Revision(baseRev, nameof(baseRev));
        var start = Path.GetFullPath(repoPath);
        if (!Directory.Exists(start))
        {
            throw new ArgumentException($"'{start}' is not a directory.", nameof(repoPath));
        }

        // The user's own config applies here: their ignore rules decide what "untracked" means.
        var root = (await GitProcess.RunCheckedAsync(
            new GitCommand(["rev-parse", "--show-toplevel"]) { WorkingDirectory = start, IsolateConfig = false }, ct).ConfigureAwait(false))
            .OutputText.TrimEnd('\n');
        var realIndex = (await GitProcess.RunCheckedAsync(
            new GitCommand(["rev-parse", "--path-format=absolute", "--git-path", "index"]) { WorkingDirectory = root, IsolateConfig = false }, ct).ConfigureAwait(false))
            .OutputText.TrimEnd('\n');

        var index = Path.Combine(Path.GetTempPath(), $"ensemble-index-{Guid.NewGuid():N}");
        var environment = new Dictionary<string, string> { ["GIT_INDEX_FILE"] = index };
        try
        {
            // Starting from the real index keeps its stat cache, so unchanged files are not hashed again.
            if (File.Exists(realIndex))
            {
                File.Copy(realIndex, index);
            }

            await GitProcess.RunCheckedAsync(
                new GitCommand(["add", "--all", "--", "."]) { WorkingDirectory = root, Environment = environment, IsolateConfig = false },
                ct).ConfigureAwait(false);
            var diff = new GitCommand(DiffArguments("--cached", revision))
            {
                WorkingDirectory = root,
                Environment = environment,
                IsolateConfig = false,
                Config = DiffConfig,
            };
            return await RunDiffAsync(diff, ct).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(index);
            File.Delete(index + ".lock");
        }
    }

    private static readonly string[] DiffConfig = [$"diff.renameLimit={RenameLimit}"];

    // Options that a user's config could otherwise change (relative paths, colour, external diff tools).
    private static string[] DiffArguments(params string[] revisions) =>
        ["diff", "--name-status", "-z", "--find-renames", "--no-color", "--no-ext-diff", "--no-relative", .. revisions, "--"];

    private static async Task<IReadOnlyList<ChangedFile>> RunDiffAsync(GitCommand command, CancellationToken ct)
    {
        var result = await GitProcess.RunCheckedAsync(command, ct).ConfigureAwait(false);
        return GitOutput.ParseNameStatus(result.StandardOutput);
    }

    private async Task EnsureMirrorAsync(RepoRef repo, string mirror, string url, CancellationToken ct)
    {
        if (File.Exists(Path.Combine(mirror, "HEAD")))
        {
            return;
        }

        if (Directory.Exists(mirror))
        {
            // Left by a crash between creation steps; under the lock nobody else is using it.
            Directory.Delete(mirror, recursive: true);
        }

        // Built beside the final path and moved in one step, so readers never see a half-made mirror.
        var staging = $"{mirror}.new-{Guid.NewGuid():N}";
        try
        {
            await GitProcess.RunCheckedAsync(
                new GitCommand(["init", "--bare", "--quiet", staging]) { Config = ["init.defaultBranch=main"] }, ct).ConfigureAwait(false);
            // Recorded for people inspecting the mirror; fetches name the URL explicitly.
            await GitProcess.RunCheckedAsync(
                new GitCommand(["config", "remote.origin.url", url]) { GitDirectory = staging }, ct).ConfigureAwait(false);
            Directory.Move(staging, mirror);
        }
        finally
        {
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }
        }

        GitLog.MirrorCreated(_logger, repo.FullName, mirror);
    }

    private static Task RunFetchAsync(string mirror, string url, IEnumerable<string> refspecs, GitCredentials credentials, CancellationToken ct)
    {
        var command = new GitCommand(["fetch", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules", "--", url, .. refspecs])
        {
            GitDirectory = mirror,
            Environment = credentials.Environment,
            Secrets = credentials.Secrets,
        };
        return GitProcess.RunCheckedAsync(command, ct);
    }

    private static async Task<IReadOnlyList<string>> MissingObjectsAsync(string mirror, IReadOnlyList<string> ids, CancellationToken ct)
    {
        if (ids.Count == 0)
        {
            return [];
        }

        var command = new GitCommand(["cat-file", "--batch-check"])
        {
            GitDirectory = mirror,
            StandardInput = Encoding.ASCII.GetBytes(string.Concat(ids.Select(id => id + "\n"))),
        };
        var result = await GitProcess.RunCheckedAsync(command, ct).ConfigureAwait(false);
        var found = GitOutput.ParseBatchCheck(result.OutputText, ids);
        return ids.Where((_, i) => found[i] is null).ToList();
    }

    private string ExistingMirror(RepoRef repo)
    {
        var mirror = MirrorPath(repo);
        return File.Exists(Path.Combine(mirror, "HEAD"))
            ? mirror
            : throw new GitException($"There is no mirror of {repo.FullName} yet; fetch it first.");
    }

    private static void EmptyDirectory(string path)
    {
        try
        {
            foreach (var entry in new DirectoryInfo(path).EnumerateFileSystemInfos())
            {
                if (entry is DirectoryInfo directory && directory.LinkTarget is null)
                {
                    directory.Delete(recursive: true);
                }
                else
                {
                    entry.Delete();
                }
            }
        }
        catch (IOException)
        {
            // Best effort: the original error matters more than the clean-up's.
        }
        catch (UnauthorizedAccessException)
        {
            // As above.
        }
    }

    private static string NormalizeGitUrl(string gitUrl)
    {
        if (!Uri.TryCreate(gitUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http" or "file"))
        {
            // The value is not echoed: a mistyped URL may hold a password.
            throw new ArgumentException("The git URL must be an absolute https, http or file URL, e.g. https://github.com/.", nameof(gitUrl));
        }

        if (uri.UserInfo.Length > 0 || uri.Query.Length > 0)
        {
            throw new ArgumentException("The git URL must not carry credentials or a query; tokens are passed separately.", nameof(gitUrl));
        }

        return gitUrl.EndsWith('/') ? gitUrl : gitUrl + "/";
    }
}
