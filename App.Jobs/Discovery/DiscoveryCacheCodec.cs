using System.Security.Cryptography;
using System.Text;

namespace Ensemble.Jobs.Discovery;

/// <summary>
/// Bytes of the discovery cache kept on disk, so a restarted worker does not re-read and re-scan every
/// configuration blob: scanned facts by facts key (<see cref="ConfigurationFiles.FactsKey"/>), and a commit's
/// configuration files (path → blob id). Pure: the caller does the file I/O.
/// </summary>
/// <remarks>
/// Layout: magic, kind, the code version that wrote it, payload, then a SHA-256 of all that. Decoding returns null
/// for anything that is not exactly such a file of the same kind and code version (truncated, corrupted, written by
/// another build whose scanner may differ), so a bad file is only ever a cache miss.
/// </remarks>
public static class DiscoveryCacheCodec
{
    private static readonly byte[] Magic = "ENSDISC1"u8.ToArray();
    private const byte FactsKind = 1;
    private const byte FilesKind = 2;
    private const int HashLength = 32;
    private const int HeaderLength = 8 + 1 + 16;

    /// <summary>
    /// The build of this assembly: facts are a function of the scanner's code as much as of the text, so a cache
    /// written by any other build is ignored (deterministic builds give the same id only to the same code).
    /// </summary>
    public static Guid CodeVersion { get; } = typeof(DiscoveryCacheCodec).Assembly.ManifestModule.ModuleVersionId;

    public static byte[] EncodeFacts(IEnumerable<KeyValuePair<string, HclFacts>> facts, Guid version)
    {
        ArgumentNullException.ThrowIfNull(facts);
        return Encode(FactsKind, version, writer =>
        {
            var list = facts.ToList();
            writer.Write(list.Count);
            foreach (var (key, value) in list)
            {
                writer.Write(key);
                WriteFacts(writer, value);
            }
        });
    }

    /// <summary>The facts of a file written by <see cref="EncodeFacts"/> with this version, or null.</summary>
    public static IReadOnlyList<KeyValuePair<string, HclFacts>>? DecodeFacts(byte[] bytes, Guid version) =>
        Decode(bytes, FactsKind, version, reader =>
        {
            var count = Count(reader);
            var result = new List<KeyValuePair<string, HclFacts>>(count);
            for (var i = 0; i < count; i++)
            {
                var key = reader.ReadString();
                result.Add(new(key, ReadFacts(reader)));
            }
            return result;
        });

    /// <summary>A commit's configuration files (path → blob id), in the given order; equal ids are written once.</summary>
    public static byte[] EncodeFiles(string commit, IReadOnlyCollection<KeyValuePair<string, string>> files, Guid version)
    {
        ArgumentNullException.ThrowIfNull(commit);
        ArgumentNullException.ThrowIfNull(files);
        return Encode(FilesKind, version, writer =>
        {
            writer.Write(commit);
            var ids = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var (_, id) in files)
            {
                ids.TryAdd(id, ids.Count);
            }
            writer.Write(ids.Count);
            foreach (var id in ids.Keys)
            {
                writer.Write(id);
            }
            writer.Write(files.Count);
            foreach (var (path, id) in files)
            {
                writer.Write(path);
                writer.Write(ids[id]);
            }
        });
    }

    /// <summary>The files of <paramref name="commit"/> in the order <see cref="EncodeFiles"/> wrote them with this version, or null.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>>? DecodeFiles(byte[] bytes, string commit, Guid version) =>
        Decode(bytes, FilesKind, version, reader =>
        {
            if (reader.ReadString() != commit)
            {
                return null;
            }
            var ids = new string[Count(reader)];
            for (var i = 0; i < ids.Length; i++)
            {
                ids[i] = reader.ReadString();
            }
            var files = new KeyValuePair<string, string>[Count(reader)];
            for (var i = 0; i < files.Length; i++)
            {
                var path = reader.ReadString();
                files[i] = new(path, ids[reader.ReadInt32()]);
            }
            return files;
        });

    private static byte[] Encode(byte kind, Guid version, Action<BinaryWriter> payload)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Magic);
            writer.Write(kind);
            writer.Write(version.ToByteArray());
            payload(writer);
        }
        var hash = SHA256.HashData(stream.GetBuffer().AsSpan(0, (int)stream.Length));
        stream.Write(hash);
        return stream.ToArray();
    }

    private static T? Decode<T>(byte[] bytes, byte kind, Guid version, Func<BinaryReader, T?> payload)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.Length < HeaderLength + HashLength)
        {
            return null;
        }
        var body = bytes.AsSpan(0, bytes.Length - HashLength);
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(bytes.AsSpan(body.Length)) ||
            !body[..8].SequenceEqual(Magic) || body[8] != kind || !body.Slice(9, 16).SequenceEqual(version.ToByteArray()))
        {
            return null;
        }
        try
        {
            using var reader = new BinaryReader(new MemoryStream(bytes, HeaderLength, body.Length - HeaderLength, writable: false), Encoding.UTF8);
            var result = payload(reader);
            return reader.BaseStream.Position == reader.BaseStream.Length ? result : null;
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or FormatException or ArgumentException or IndexOutOfRangeException or OverflowException)
        {
            return null; // a well-hashed but malformed file: written by a bug, still only a miss
        }
    }

    private static void WriteFacts(BinaryWriter writer, HclFacts facts)
    {
        writer.Write(facts.Backend is not null);
        if (facts.Backend is { } backend)
        {
            writer.Write(backend.Type);
            writer.Write(backend.Line);
        }
        writer.Write(facts.Modules.Count);
        foreach (var module in facts.Modules)
        {
            writer.Write(module.Name);
            writer.Write(module.Source);
            writer.Write(module.IsLocal);
            writer.Write(module.Line);
        }
        writer.Write(facts.RequiredVersion is not null);
        if (facts.RequiredVersion is { } version)
        {
            writer.Write(version);
        }
        writer.Write(facts.ReadFiles.Count);
        foreach (var read in facts.ReadFiles)
        {
            writer.Write(read.Path);
            writer.Write((byte)read.Base);
            writer.Write(read.Line);
        }
        writer.Write(facts.Problems.Count);
        foreach (var problem in facts.Problems)
        {
            writer.Write(problem.Line);
            writer.Write(problem.Message);
        }
    }

    private static HclFacts ReadFacts(BinaryReader reader)
    {
        var backend = reader.ReadBoolean() ? new BackendBlock(reader.ReadString(), reader.ReadInt32()) : null;
        var modules = new ModuleCall[Count(reader)];
        for (var i = 0; i < modules.Length; i++)
        {
            modules[i] = new ModuleCall(reader.ReadString(), reader.ReadString(), reader.ReadBoolean(), reader.ReadInt32());
        }
        var requiredVersion = reader.ReadBoolean() ? reader.ReadString() : null;
        var reads = new FileRead[Count(reader)];
        for (var i = 0; i < reads.Length; i++)
        {
            var path = reader.ReadString();
            var readBase = reader.ReadByte();
            if (!Enum.IsDefined((ReadBase)readBase))
            {
                throw new FormatException("unknown read base");
            }
            reads[i] = new FileRead(path, (ReadBase)readBase, reader.ReadInt32());
        }
        var problems = new ScanProblem[Count(reader)];
        for (var i = 0; i < problems.Length; i++)
        {
            problems[i] = new ScanProblem(reader.ReadInt32(), reader.ReadString());
        }
        return new HclFacts(backend, modules, requiredVersion, reads, problems);
    }

    private static int Count(BinaryReader reader)
    {
        var count = reader.ReadInt32();
        // A count can never exceed the bytes left: a bad one must not allocate gigabytes.
        return count >= 0 && count <= reader.BaseStream.Length - reader.BaseStream.Position
            ? count
            : throw new FormatException("bad count");
    }
}
