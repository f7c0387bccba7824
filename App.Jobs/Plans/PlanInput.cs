using System.Buffers;

namespace Ensemble.Jobs.Plans;

/// <summary>
/// Reads a stream into as little memory as its bytes take: one exact-size array when the stream knows its length (a file),
/// otherwise chunks of up to 1 MiB (an S3 response) read straight into place. A MemoryStream would double its buffer as it
/// grows (up to 2× the plan) and then copy it once more for a byte array.
/// </summary>
internal static class PlanInput
{
    private const int FirstChunk = 64 * 1024;
    private const int LargestChunk = 1024 * 1024;

    public static ReadOnlySequence<byte> Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var chunks = new Chunks(KnownLength(stream));
        while (chunks.Next() is { } chunk)
        {
            chunks.Filled(stream.ReadAtLeast(chunk, chunk.Length, throwOnEndOfStream: false));
        }

        return chunks.ToSequence();
    }

    public static async Task<ReadOnlySequence<byte>> ReadAsync(Stream stream, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var chunks = new Chunks(KnownLength(stream));
        while (chunks.Next() is { } chunk)
        {
            chunks.Filled(await stream.ReadAtLeastAsync(chunk, chunk.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false));
        }

        return chunks.ToSequence();
    }

    private static long? KnownLength(Stream stream)
    {
        try
        {
            return stream.CanSeek ? Math.Max(0, stream.Length - stream.Position) : null;
        }
        catch (NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>The chunks read so far; the next one is sized for what is left (if known) or grows by doubling.</summary>
    private sealed class Chunks(long? knownLength)
    {
        private readonly List<byte[]> full = [];
        private byte[]? current;
        private bool ended;

        public byte[]? Next()
        {
            if (ended)
            {
                return null;
            }

            int size;
            if (full.Count == 0)
            {
                size = knownLength is { } known and > 0 ? (int)Math.Min(known, Array.MaxLength) : FirstChunk;
            }
            else if (full.Count == 1 && full[0].Length == knownLength)
            {
                // Everything announced was read: one byte confirms the end (or starts on what the length did not announce).
                size = 1;
            }
            else
            {
                size = Math.Min(LargestChunk, Math.Max(FirstChunk, full[^1].Length * 2));
            }

            return current = new byte[size];
        }

        public void Filled(int count)
        {
            var chunk = current!;
            if (count < chunk.Length)
            {
                ended = true;
                if (count == 0)
                {
                    return;
                }

                // The last chunk keeps only what it holds, so at most a chunk's tail is ever wasted, and only briefly.
                chunk = chunk.AsSpan(0, count).ToArray();
            }

            full.Add(chunk);
        }

        public ReadOnlySequence<byte> ToSequence()
        {
            if (full.Count == 0)
            {
                return ReadOnlySequence<byte>.Empty;
            }

            if (full.Count == 1)
            {
                return new ReadOnlySequence<byte>(full[0]);
            }

            var first = new Segment(full[0], 0);
            var last = first;
            foreach (var chunk in full.Skip(1))
            {
                last = last.Append(chunk);
            }

            return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        }
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
