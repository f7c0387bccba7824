using Ensemble.Jobs.Discovery;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// <see cref="ProjectFinder"/>'s memory of one repository on disk, so a restarted worker starts warm: scanned facts
/// by facts key (append-only segment files, merged when they pile up) and commits' configuration files.
/// </summary>
/// <remarks>
/// Best effort by design: every file is written whole to a temporary name and renamed into place (readers in other
/// processes see all of it or nothing), a file that does not decode (<see cref="DiscoveryCacheCodec"/>: truncated,
/// corrupted, another build) is deleted and counts as a miss, and an I/O error only costs the time of a miss.
/// </remarks>
internal sealed class DiscoveryDiskCache(string directory)
{
    private const string FactsPrefix = "facts-";
    private const string FilesPrefix = "files-";
    // Merging keeps loads to a few files; a repository's facts stay bounded like the in-memory cache's.
    private const int MaxFactSegments = 16;
    private const int MaxFacts = 200_000;
    private const int MaxCommits = 32;

    public string Directory { get; } = directory;

    public IReadOnlyList<KeyValuePair<string, HclFacts>> LoadFacts()
    {
        DeleteStaleTemporaries();
        var facts = new List<KeyValuePair<string, HclFacts>>();
        foreach (var file in Segments())
        {
            if (Read(file, bytes => DiscoveryCacheCodec.DecodeFacts(bytes, DiscoveryCacheCodec.CodeVersion)) is { } segment)
            {
                facts.AddRange(segment);
            }
        }
        return facts;
    }

    public void SaveFacts(IReadOnlyCollection<KeyValuePair<string, HclFacts>> facts)
    {
        if (facts.Count == 0)
        {
            return;
        }
        Write($"{FactsPrefix}{Guid.NewGuid():N}.bin", DiscoveryCacheCodec.EncodeFacts(facts, DiscoveryCacheCodec.CodeVersion));
        var segments = Segments();
        if (segments.Count <= MaxFactSegments)
        {
            return;
        }
        // Merge: write the union first, then delete what it replaces, so a concurrent reader never loses a fact
        // (at worst it reads some twice).
        var merged = new Dictionary<string, HclFacts>(StringComparer.Ordinal);
        foreach (var file in segments)
        {
            foreach (var (key, value) in Read(file, bytes => DiscoveryCacheCodec.DecodeFacts(bytes, DiscoveryCacheCodec.CodeVersion)) ?? [])
            {
                merged[key] = value;
            }
        }
        if (merged.Count <= MaxFacts)
        {
            Write($"{FactsPrefix}{Guid.NewGuid():N}.bin", DiscoveryCacheCodec.EncodeFacts(merged, DiscoveryCacheCodec.CodeVersion));
        }
        foreach (var file in segments)
        {
            Delete(file);
        }
    }

    /// <summary>The commit's configuration files (path → blob id) in the order saved, or null when not cached or unreadable.</summary>
    public IReadOnlyList<KeyValuePair<string, string>>? LoadFiles(string commit) =>
        Read(Path.Combine(Directory, $"{FilesPrefix}{commit}.bin"), bytes => DiscoveryCacheCodec.DecodeFiles(bytes, commit, DiscoveryCacheCodec.CodeVersion));

    /// <summary>The commits whose configuration files are cached, newest first.</summary>
    public IReadOnlyList<string> Commits()
    {
        try
        {
            return System.IO.Directory.Exists(Directory)
                ? [.. new DirectoryInfo(Directory).GetFiles($"{FilesPrefix}*.bin")
                    .OrderByDescending(f => f.LastWriteTimeUtc)
                    .Select(f => f.Name[FilesPrefix.Length..^".bin".Length])
                    .Where(IsObjectId)] // anything else was not written here

                : [];
        }
        catch (IOException)
        {
            return [];
        }
    }

    public void SaveFiles(string commit, IReadOnlyCollection<KeyValuePair<string, string>> files)
    {
        Write($"{FilesPrefix}{commit}.bin", DiscoveryCacheCodec.EncodeFiles(commit, files, DiscoveryCacheCodec.CodeVersion));
        try
        {
            var commits = new DirectoryInfo(Directory).GetFiles($"{FilesPrefix}*.bin");
            if (commits.Length > MaxCommits)
            {
                foreach (var old in commits.OrderByDescending(f => f.LastWriteTimeUtc).Skip(MaxCommits))
                {
                    Delete(old.FullName);
                }
            }
        }
        catch (IOException)
        {
            // Pruning is retried on the next save.
        }
    }

    /// <summary>
    /// Temporary files of writes that never finished (the process was stopped while writing in the background):
    /// deleted once clearly abandoned, never while another process may still be writing one.
    /// </summary>
    private void DeleteStaleTemporaries()
    {
        try
        {
            if (!System.IO.Directory.Exists(Directory))
            {
                return;
            }
            foreach (var file in new DirectoryInfo(Directory).GetFiles(".*.tmp"))
            {
                if (file.LastWriteTimeUtc < DateTime.UtcNow - TimeSpan.FromHours(1))
                {
                    Delete(file.FullName);
                }
            }
        }
        catch (IOException)
        {
            // Tried again on the next start.
        }
    }

    private static bool IsObjectId(string name) => name.Length is 40 or 64 && name.All(char.IsAsciiHexDigitLower);

    private List<string> Segments()
    {
        try
        {
            return System.IO.Directory.Exists(Directory)
                ? [.. System.IO.Directory.EnumerateFiles(Directory, $"{FactsPrefix}*.bin")]
                : [];
        }
        catch (IOException)
        {
            return [];
        }
    }

    private static T? Read<T>(string file, Func<byte[], T?> decode)
        where T : class
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // missing (or merged away meanwhile): a miss
        }
        var value = decode(bytes);
        if (value is null)
        {
            Delete(file); // rebuilt on the next save
        }
        return value;
    }

    private void Write(string name, byte[] bytes)
    {
        var temporary = Path.Combine(Directory, $".{name}.{Guid.NewGuid():N}.tmp");
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            File.WriteAllBytes(temporary, bytes);
            File.Move(temporary, Path.Combine(Directory, name), overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Delete(temporary); // a full or read-only disk only makes the next start slower
        }
    }

    private static void Delete(string file)
    {
        try
        {
            File.Delete(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left for the next merge or prune.
        }
    }
}
