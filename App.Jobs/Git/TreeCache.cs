using System.Collections.Concurrent;

namespace Ensemble.Jobs.Git;

/// <summary>
/// Git trees a checkout has read, by mirror and object name (a tree's id, or <c>&lt;commit&gt;^{tree}</c> for a commit's
/// root). Git objects never change, so an entry is never stale: the plans of one commit share the root tree and the
/// directories above their projects (a 200-project pull request read its <c>envs/</c> tree 200 times), and each
/// checkout asks cat-file only for what is new to it. Entries are checked again on every use (TreeCheckout refuses a
/// hostile entry each time); the cache only bounds memory, by forgetting everything when it holds more than
/// <see cref="MaxBytes"/> (rare: a monorepo's directory trees are small).
/// </summary>
internal sealed class TreeCache(long maxBytes = TreeCache.MaxBytes)
{
    public const long MaxBytes = 32L << 20;

    /// <summary>A tree's raw content and the length of the object ids in it (20 bytes for SHA-1, 32 for SHA-256).</summary>
    public sealed record Tree(byte[] Content, int IdBytes);

    private readonly ConcurrentDictionary<(string Mirror, string Name), Tree> _trees = new();
    private long _bytes;

    /// <summary>The process's cache, as <see cref="CatFilePool.Shared"/> is its pool.</summary>
    public static TreeCache Shared { get; } = new();

    public bool TryGet(string mirror, string name, out Tree tree) => _trees.TryGetValue((mirror, name), out tree!);

    public void Add(string mirror, string name, ReadOnlySpan<byte> content, int idBytes)
    {
        if (content.Length > maxBytes || _trees.ContainsKey((mirror, name)))
        {
            return;
        }

        if (Interlocked.Add(ref _bytes, content.Length) > maxBytes)
        {
            _trees.Clear();
            Interlocked.Exchange(ref _bytes, content.Length);
        }

        _trees.TryAdd((mirror, name), new Tree(content.ToArray(), idBytes));
    }
}
