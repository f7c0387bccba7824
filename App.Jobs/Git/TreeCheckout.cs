using System.Text;
using System.Threading.Channels;

namespace Ensemble.Jobs.Git;

/// <summary>
/// Writes a commit's files — all of them, or those at and below some paths — into an empty directory through one
/// <c>git cat-file --batch</c>: trees are read from the root, descending only into directories on the way to a wanted
/// path, and each blob is written as it arrives. No process of its own and no index file: the cat-file is a pooled one
/// (<see cref="CatFilePool"/>), where <c>git reset</c> into a private index plus <c>checkout-index</c> took two new
/// processes (each start costs milliseconds of CPU, on every plan).
/// As <c>checkout-index</c> without filters: contents as committed (no <c>.gitattributes</c> eol conversion or
/// smudge filters), executable bit from mode 100755, symlinks as links, a submodule as an empty directory.
/// </summary>
internal sealed class TreeCheckout
{
    private abstract record Pending(string Path);

    /// <summary>
    /// A tree to read; <paramref name="All"/>: everything below it is wanted. <paramref name="CacheName"/>: its name in
    /// the cache — what cat-file is asked, when that names one object forever (an object id, a full commit id's
    /// <c>^{tree}</c>); null for a name whose object can change (a branch, <c>HEAD</c>, an abbreviation).
    /// </summary>
    private sealed record TreeRead(string Path, bool All, string? CacheName) : Pending(Path);

    private sealed record BlobRead(string Path, bool Executable, bool Symlink) : Pending(Path);

    private readonly string _target;
    private readonly TreeCache? _cache;
    private readonly string _mirror;
    private readonly HashSet<string>? _wanted;
    private readonly HashSet<string> _onTheWay = new(StringComparer.Ordinal);
    private readonly HashSet<string> _directories = new(StringComparer.Ordinal);
    // What each request is for, in the order the requests were written: cat-file answers in that order. Touched by
    // the reading thread only once it runs (the root request is queued before).
    private readonly Queue<Pending> _pending = new();
    private readonly Channel<string> _requests = Channel.CreateUnbounded<string>(new() { SingleReader = true, SingleWriter = true });

    /// <param name="target">An existing empty directory.</param>
    /// <param name="paths">Normalised repository paths (a directory means everything below it); null for the whole tree.</param>
    /// <param name="cache">Trees already read from <paramref name="mirror"/>, asked before cat-file (and given what it answers).</param>
    public TreeCheckout(string target, IReadOnlyCollection<string>? paths, TreeCache? cache = null, string mirror = "")
    {
        _target = target;
        _cache = cache;
        _mirror = mirror;
        if (paths is not null)
        {
            _wanted = new HashSet<string>(paths, StringComparer.Ordinal);
            foreach (var path in paths)
            {
                for (var slash = path.IndexOf('/'); slash > 0; slash = path.IndexOf('/', slash + 1))
                {
                    _onTheWay.Add(path[..slash]);
                }
            }
        }
    }

    /// <summary>The commit's root tree was not in the mirror.</summary>
    public bool CommitMissing { get; private set; }

    /// <summary>Every request was answered (false after <see cref="ReadAnswers"/> when cat-file stopped early).</summary>
    public bool Complete => _pending.Count == 0;

    /// <summary>
    /// Queues the root tree's request, or reads it (and what else is cached) from the cache; then, unless that made the
    /// checkout <see cref="Complete"/>, run <see cref="WriteRequestsAsync"/> and <see cref="ReadAnswers"/> concurrently.
    /// </summary>
    public void Start(string commit)
    {
        var root = $"{commit}^{{tree}}";
        Request(root, new TreeRead("", _wanted is null, IsObjectId(commit) ? root : null));
        Answered();
    }

    /// <summary>How many objects cat-file was asked for so far (trees found in the cache are not).</summary>
    public int Requested { get; private set; }

    /// <summary>
    /// Feeds cat-file's standard input until every request has been answered. A broken pipe ends it quietly: git
    /// exited, and <see cref="ReadAnswers"/> sees its output end with requests unanswered (<see cref="Complete"/>).
    /// </summary>
    public async Task WriteRequestsAsync(Stream stdin, CancellationToken ct)
    {
        try
        {
            await GitProcess.WriteLinesAsync(stdin, _requests.Reader, ct).ConfigureAwait(false);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// Reads cat-file's answers (blocking, on the calling thread), writing files and asking for subtrees, until every
    /// request is answered — cat-file itself stays for the next checkout — or its output ends.
    /// </summary>
    public void ReadAnswers(Stream stdout)
    {
        try
        {
            GitOutput.ReadBatch(stdout, null, OnObject, new List<string>(), OnMissing, () => Complete);
        }
        finally
        {
            _requests.Writer.TryComplete(); // a failed read must not leave the writer waiting
        }
    }

    private void Request(string objectName, Pending pending)
    {
        if (pending is TreeRead { CacheName: { } name } tree && _cache is not null && _cache.TryGet(_mirror, name, out var cached))
        {
            ReadTree(tree, cached.Content, cached.IdBytes);
            return;
        }

        Requested++;
        _pending.Enqueue(pending);
        _requests.Writer.TryWrite(objectName);
    }

    private void Answered()
    {
        if (_pending.Count == 0)
        {
            _requests.Writer.TryComplete(); // nothing more to ask
        }
    }

    private void OnMissing()
    {
        var pending = _pending.Dequeue();
        if (pending.Path.Length == 0)
        {
            CommitMissing = true;
            Answered();
            return;
        }

        throw new GitException($"The mirror lacks an object of '{pending.Path}' (incomplete or damaged mirror).");
    }

    private void OnObject(ReadOnlySpan<byte> id, ReadOnlySpan<byte> content)
    {
        switch (_pending.Dequeue())
        {
            case TreeRead tree:
                if (tree.CacheName is { } name)
                {
                    _cache?.Add(_mirror, name, content, id.Length / 2);
                }

                ReadTree(tree, content, id.Length / 2);
                break;
            case BlobRead blob:
                WriteBlob(blob, content);
                break;
        }

        Answered();
    }

    private void ReadTree(TreeRead tree, ReadOnlySpan<byte> entries, int idBytes)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        while (!entries.IsEmpty)
        {
            // "<mode> <name>\0<raw object id>"
            var space = entries.IndexOf((byte)' ');
            var nul = entries.IndexOf((byte)0);
            if (space <= 0 || nul < space || entries.Length < nul + 1 + idBytes)
            {
                throw new GitException($"Malformed git tree object at '{tree.Path}'.");
            }

            var mode = entries[..space];
            var name = Encoding.UTF8.GetString(entries[(space + 1)..nul]);
            var rawId = entries.Slice(nul + 1, idBytes);
            entries = entries[(nul + 1 + idBytes)..];
            if (name.Length == 0 || name is "." or ".." || name.Contains('/') || name.Equals(".git", StringComparison.OrdinalIgnoreCase) || !names.Add(name))
            {
                // What git's own checkout refuses (verify_path): a tree crafted to write outside or over the workspace.
                throw new GitException($"Refusing to check out the path '{tree.Path}/{name}' from this commit.");
            }

            var path = tree.Path.Length == 0 ? name : $"{tree.Path}/{name}";
            var all = tree.All || _wanted!.Contains(path);
            if (!all && !_onTheWay.Contains(path))
            {
                continue;
            }

            var oid = Convert.ToHexStringLower(rawId); // only for entries the checkout wants, not every sibling
            switch (Encoding.ASCII.GetString(mode))
            {
                case "40000":
                    Request(oid, new TreeRead(path, all, oid));
                    break;
                case "100644" or "100664" when all:
                    Request(oid, new BlobRead(path, Executable: false, Symlink: false));
                    break;
                case "100755" when all:
                    Request(oid, new BlobRead(path, Executable: true, Symlink: false));
                    break;
                case "120000" when all:
                    Request(oid, new BlobRead(path, Executable: false, Symlink: true));
                    break;
                case "160000" when all:
                    Directory.CreateDirectory(Full(path)); // a submodule: an empty directory, as checkout-index leaves it
                    break;
            }
        }
    }

    private void WriteBlob(BlobRead blob, ReadOnlySpan<byte> content)
    {
        var path = Full(blob.Path);
        var parent = Path.GetDirectoryName(path)!;
        if (_directories.Add(parent))
        {
            Directory.CreateDirectory(parent);
        }

        if (blob.Symlink)
        {
            File.CreateSymbolicLink(path, Encoding.UTF8.GetString(content));
        }
        else
        {
            // CreateNew: never through a link or over a file already written; the mode is subject to the umask, as git's.
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, BufferSize = 0 };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = blob.Executable ? (UnixFileMode)0b111_111_111 : (UnixFileMode)0b110_110_110;
            }
            using var file = new FileStream(path, options);
            file.Write(content);
        }
    }

    private string Full(string repoPath) => Path.Combine(_target, repoPath);

    /// <summary>A full SHA-1 or SHA-256 object id, which names the same object forever.</summary>
    private static bool IsObjectId(string name) => name.Length is 40 or 64 && name.All(char.IsAsciiHexDigitLower);
}
