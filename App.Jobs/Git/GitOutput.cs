using System.Buffers;
using System.Text;
using Ensemble.Jobs.Core;

namespace Ensemble.Jobs.Git;

/// <summary>
/// One object of a <c>git cat-file --batch</c> stream: its id (ASCII hex) and content, both valid only during the call.
/// </summary>
public delegate void GitBlobHandler(ReadOnlySpan<byte> id, ReadOnlySpan<byte> content);

/// <summary>Parsers for git's machine-readable outputs. Paths come NUL-separated (<c>-z</c>), so any byte but NUL is allowed in them.</summary>
internal static class GitOutput
{
    /// <summary>Parses <c>git diff --name-status -z</c>: a status field, then one path (two for renames and copies).</summary>
    public static IReadOnlyList<ChangedFile> ParseNameStatus(ReadOnlySpan<byte> output)
    {
        var fields = SplitNul(output);
        var changes = new List<ChangedFile>();
        for (var i = 0; i < fields.Count;)
        {
            var status = fields[i++];
            if (status.Length == 0 || i >= fields.Count)
            {
                throw new GitException($"Unexpected git diff output near field {i}: '{status}'.");
            }

            switch (status[0])
            {
                case 'A': changes.Add(new ChangedFile(fields[i++], ChangeKind.Added)); break;
                case 'M': changes.Add(new ChangedFile(fields[i++], ChangeKind.Modified)); break;
                case 'D': changes.Add(new ChangedFile(fields[i++], ChangeKind.Deleted)); break;
                case 'T': changes.Add(new ChangedFile(fields[i++], ChangeKind.TypeChanged)); break;
                case 'R' when i + 1 < fields.Count:
                    changes.Add(new ChangedFile(fields[i + 1], ChangeKind.Renamed, fields[i]));
                    i += 2;
                    break;
                case 'C' when i + 1 < fields.Count:
                    // Only with copy detection, which Ensemble does not ask for; the copy is a new file.
                    changes.Add(new ChangedFile(fields[i + 1], ChangeKind.Added));
                    i += 2;
                    break;
                default:
                    throw new GitException($"Unexpected git diff status '{status}' for '{fields[i]}'.");
            }
        }

        return changes;
    }

    /// <summary>Parses <c>git ls-tree -r -z</c> (<c>mode SP type SP id TAB path</c>), keeping blobs only (no submodules).</summary>
    public static IReadOnlyList<TreeFile> ParseLsTree(ReadOnlySpan<byte> output)
    {
        var files = new List<TreeFile>();
        while (!output.IsEmpty)
        {
            var end = output.IndexOf((byte)0);
            var record = end < 0 ? output : output[..end];
            output = end < 0 ? [] : output[(end + 1)..];
            if (record.IsEmpty)
            {
                continue;
            }

            var tab = record.IndexOf((byte)'\t');
            var meta = tab < 0 ? [] : Encoding.ASCII.GetString(record[..tab]).Split(' ');
            if (meta.Length != 3)
            {
                throw new GitException($"Unexpected git ls-tree output: '{Encoding.UTF8.GetString(record)}'.");
            }

            if (meta[1] == "blob")
            {
                files.Add(new TreeFile(Encoding.UTF8.GetString(record[(tab + 1)..]), meta[2]));
            }
        }

        return files;
    }

    /// <summary>
    /// Streams <c>git ls-tree -r -z</c> output: records are parsed in place from a reused buffer as they arrive
    /// (no copy of the whole output, no per-record split or decode of mode and type); only the path and the
    /// object id become strings, and equal ids share one string. Blobs only (no submodules). With
    /// <paramref name="keepPath"/>, only the records whose raw (UTF-8) path it accepts are decoded and returned: the
    /// others cost no allocation at all.
    /// </summary>
    public static async Task<List<TreeFile>> ReadLsTreeAsync(
        Stream output, CancellationToken ct, Action<TreeFile>? onFile = null, Func<ReadOnlySpan<byte>, bool>? keepPath = null)
    {
        var files = new List<TreeFile>(4096);
        var ids = new Dictionary<string, string>(StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            var filled = 0;
            while (true)
            {
                if (filled == buffer.Length)
                {
                    // One record longer than the buffer (a very long path): grow, keeping what was read.
                    var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, filled).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await output.ReadAsync(buffer.AsMemory(filled), ct).ConfigureAwait(false);
                filled += read;
                var before = files.Count;
                var consumed = ParseLsTreeRecords(buffer.AsSpan(0, filled), final: read == 0, files, ids, keepPath);
                if (onFile is not null)
                {
                    for (var i = before; i < files.Count; i++)
                    {
                        onFile(files[i]);
                    }
                }
                buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                filled -= consumed;
                if (read == 0)
                {
                    return files;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Parses the complete records of <paramref name="data"/> (all of it when final); returns the bytes consumed.</summary>
    private static int ParseLsTreeRecords(
        ReadOnlySpan<byte> data, bool final, List<TreeFile> files, Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> ids,
        Func<ReadOnlySpan<byte>, bool>? keepPath)
    {
        var consumed = 0;
        Span<char> idChars = stackalloc char[64];
        while (consumed < data.Length)
        {
            var rest = data[consumed..];
            var end = rest.IndexOf((byte)0);
            if (end < 0 && !final)
            {
                break;
            }

            var record = end < 0 ? rest : rest[..end];
            consumed += end < 0 ? rest.Length : end + 1;
            if (record.IsEmpty)
            {
                continue;
            }

            // "mode SP type SP id TAB path": the mode has no fixed width in general, so find the separators.
            var tab = record.IndexOf((byte)'\t');
            var meta = tab < 0 ? [] : record[..tab];
            var space1 = meta.IndexOf((byte)' ');
            var space2 = space1 < 0 ? -1 : meta[(space1 + 1)..].IndexOf((byte)' ') + space1 + 1;
            var idLength = meta.Length - space2 - 1;
            if (space1 <= 0 || space2 <= space1 || idLength is not (40 or 64))
            {
                throw new GitException($"Unexpected git ls-tree output: '{Encoding.UTF8.GetString(record)}'.");
            }

            if (!meta[(space1 + 1)..space2].SequenceEqual("blob"u8) || (keepPath is not null && !keepPath(record[(tab + 1)..])))
            {
                continue;
            }

            var idSpan = idChars[..idLength];
            Encoding.ASCII.GetChars(meta[(space2 + 1)..], idSpan);
            if (!ids.TryGetValue(idSpan, out var id))
            {
                id = new string(idSpan);
                ids[id] = id;
            }

            files.Add(new TreeFile(Encoding.UTF8.GetString(record[(tab + 1)..]), id));
        }

        return consumed;
    }

    /// <summary>
    /// Parses <c>git diff-tree -r -z --no-abbrev</c> raw output
    /// (<c>:oldmode SP newmode SP oldid SP newid SP status NUL path NUL</c>; renames and copies carry the old path first).
    /// </summary>
    public static IReadOnlyList<RawChange> ParseRawDiff(ReadOnlySpan<byte> output)
    {
        var fields = SplitNul(output);
        var changes = new List<RawChange>(fields.Count / 2);
        for (var i = 0; i < fields.Count; i++)
        {
            var meta = fields[i];
            if (meta.Length == 0)
            {
                continue;
            }

            var parts = meta.Split(' ');
            if (meta[0] != ':' || parts.Length != 5 || parts[4].Length == 0 || i + 1 >= fields.Count)
            {
                throw new GitException($"Unexpected git diff-tree output near field {i}: '{meta}'.");
            }

            var status = parts[4][0];
            if (status is 'R' or 'C')
            {
                if (i + 2 >= fields.Count)
                {
                    throw new GitException($"Unexpected git diff-tree output: '{meta}' without its two paths.");
                }
                var oldPath = fields[++i];
                changes.Add(new RawChange(fields[++i], parts[0][1..], parts[1], parts[2], parts[3], status, oldPath));
                continue;
            }

            changes.Add(new RawChange(fields[++i], parts[0][1..], parts[1], parts[2], parts[3], status));
        }

        return changes;
    }

    /// <summary>
    /// Parses <c>git cat-file --batch-check</c> output for the given input lines, in order: the object id, or null
    /// where git answered "missing" (or "ambiguous").
    /// </summary>
    public static IReadOnlyList<string?> ParseBatchCheck(string output, IReadOnlyList<string> inputs)
    {
        var lines = output.Split('\n');
        if (lines.Length < inputs.Count)
        {
            throw new GitException($"git cat-file --batch-check answered {lines.Length} lines for {inputs.Count} objects.");
        }

        var ids = new string?[inputs.Count];
        for (var i = 0; i < inputs.Count; i++)
        {
            var line = lines[i];
            ids[i] = line == $"{inputs[i]} missing" || line == $"{inputs[i]} ambiguous" ? null : line.Split(' ')[0];
        }

        return ids;
    }

    /// <summary>
    /// Reads <c>git cat-file --batch</c> output for <paramref name="count"/> requests: a header line
    /// <c>id type size</c> followed by exactly size bytes and a newline, or <c>name missing</c>.
    /// </summary>
    public static void ReadBatch(Stream output, int count, IDictionary<string, byte[]> contents, ICollection<string> missing) =>
        ReadBatch(output, (int?)count, contents, missing);

    /// <summary>As <see cref="ReadBatch(Stream, int, IDictionary{string, byte[]}, ICollection{string})"/>, or until the output ends when count is null.</summary>
    public static void ReadBatch(Stream output, int? count, IDictionary<string, byte[]> contents, ICollection<string> missing)
    {
        ArgumentNullException.ThrowIfNull(contents);
        ReadBatch(output, count, (id, content) => contents[Encoding.ASCII.GetString(id)] = content.ToArray(), missing);
    }

    /// <summary>
    /// As <see cref="ReadBatch(Stream, int?, IDictionary{string, byte[]}, ICollection{string})"/>, handing each object
    /// to <paramref name="onContent"/> as soon as it is read (on the calling thread), straight from the read buffer:
    /// no array or id string per object.
    /// </summary>
    /// <param name="onMissing">Called for each missing object, after it is added to <paramref name="missing"/>.</param>
    /// <param name="done">
    /// Checked before each answer: true ends the read without waiting for the output to end (a cat-file that stays
    /// for the next caller). It must then hold nothing unread, or git answered more than it was asked.
    /// </param>
    public static void ReadBatch(Stream output, int? count, GitBlobHandler onContent, ICollection<string> missing, Action? onMissing = null, Func<bool>? done = null)
    {
        ArgumentNullException.ThrowIfNull(onContent);
        ArgumentNullException.ThrowIfNull(missing);
        // Headers are parsed in place from a reused buffer: no per-byte reads, no header string or split.
        var reader = new ChunkReader(output);
        Span<byte> id = stackalloc byte[64];
        for (var i = 0; count is null || i < count; i++)
        {
            if (done?.Invoke() == true)
            {
                if (reader.HasBuffered)
                {
                    throw new GitException("git cat-file --batch answered more than it was asked.");
                }

                return;
            }

            var header = reader.ReadLine(out var endOfStream);
            if (endOfStream && count is null)
            {
                return;
            }
            if (endOfStream)
            {
                throw new GitException($"git cat-file --batch ended after {i} of {count} objects.");
            }

            var space = header.IndexOf((byte)' ');
            var rest = space < 0 ? [] : header[(space + 1)..];
            if (rest.SequenceEqual("missing"u8) || rest.SequenceEqual("ambiguous"u8))
            {
                missing.Add(Encoding.UTF8.GetString(header[..space]));
                onMissing?.Invoke();
                continue;
            }

            var space2 = rest.IndexOf((byte)' ');
            if (space <= 0 || space > id.Length || space2 <= 0 || !int.TryParse(rest[(space2 + 1)..], System.Globalization.NumberStyles.None, null, out var size))
            {
                throw new GitException($"Unexpected git cat-file --batch header: '{Encoding.UTF8.GetString(header)}'.");
            }

            // Copied: reading the content may move the buffer the header is in.
            header[..space].CopyTo(id);
            // With its newline in the same call: a later read may refill the buffer the content is in.
            var content = reader.Take(size + 1);
            if (content[size] != '\n')
            {
                throw new GitException($"git cat-file --batch output for {Encoding.ASCII.GetString(id[..space])} is not terminated by a newline.");
            }

            onContent(id[..space], content[..size]);
        }
    }

    /// <summary>Lines and exact byte counts from a stream through one growable buffer.</summary>
    private sealed class ChunkReader(Stream stream)
    {
        private byte[] _buffer = new byte[1 << 16];
        private int _start;
        private int _end;

        public bool HasBuffered => _end > _start;

        /// <summary>The next line without its newline; valid until the next call.</summary>
        public ReadOnlySpan<byte> ReadLine(out bool endOfStream)
        {
            var searched = 0;
            while (true)
            {
                var newline = _buffer.AsSpan(_start + searched, _end - _start - searched).IndexOf((byte)'\n');
                if (newline >= 0)
                {
                    var line = _buffer.AsSpan(_start, searched + newline);
                    _start += searched + newline + 1;
                    endOfStream = false;
                    return line;
                }

                searched = _end - _start;
                if (!Fill())
                {
                    endOfStream = searched == 0;
                    return endOfStream ? [] : throw new GitException("git cat-file --batch output ended inside a header.");
                }
            }
        }

        /// <summary>The next <paramref name="size"/> bytes, in the buffer (grown if need be); valid until the next call.</summary>
        public ReadOnlySpan<byte> Take(int size)
        {
            if (_end - _start < size)
            {
                var unread = _end - _start;
                if (_buffer.Length < size)
                {
                    var larger = new byte[Math.Max(size, _buffer.Length * 2)];
                    _buffer.AsSpan(_start, unread).CopyTo(larger);
                    _buffer = larger;
                }
                else
                {
                    _buffer.AsSpan(_start, unread).CopyTo(_buffer);
                }
                _start = 0;
                _end = unread;
                while (_end < size)
                {
                    var read = stream.Read(_buffer, _end, _buffer.Length - _end);
                    if (read == 0)
                    {
                        throw new EndOfStreamException($"git cat-file --batch output ended {size - _end} bytes before the end of an object.");
                    }
                    _end += read;
                }
            }
            var block = _buffer.AsSpan(_start, size);
            _start += size;
            return block;
        }

        /// <summary>Reads more after the unread bytes (moved to the front, the buffer grown when full); false at the end.</summary>
        private bool Fill()
        {
            var unread = _end - _start;
            if (unread == _buffer.Length)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }
            else if (_start > 0)
            {
                _buffer.AsSpan(_start, unread).CopyTo(_buffer);
            }

            _start = 0;
            _end = unread;
            var read = stream.Read(_buffer, _end, _buffer.Length - _end);
            _end += read;
            return read > 0;
        }
    }

    private static List<string> SplitNul(ReadOnlySpan<byte> output)
    {
        var fields = new List<string>();
        while (!output.IsEmpty)
        {
            var end = output.IndexOf((byte)0);
            if (end < 0)
            {
                fields.Add(Encoding.UTF8.GetString(output));
                break;
            }

            fields.Add(Encoding.UTF8.GetString(output[..end]));
            output = output[(end + 1)..];
        }

        return fields;
    }
}
