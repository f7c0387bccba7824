using System.Security.Cryptography;
using Ensemble.Jobs.Artifacts;

namespace Ensemble.Tests.Artifacts;

/// <summary>What every <see cref="IArtifactStore"/> must do; each store's test class inherits these tests.</summary>
public abstract class ArtifactStoreContract
{
    protected abstract IArtifactStore Store { get; }

    /// <summary>A key no other test uses, shaped like the real ones.</summary>
    protected static string NewKey(string name = "plan.tfplan") => $"repos/o/r/pulls/1/{Guid.NewGuid():N}/envs/prod/{name}";

    protected static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    protected static string Sha256Hex(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    protected async Task<byte[]?> ReadAllAsync(string key)
    {
        await using var stream = await Store.OpenReadAsync(key);
        if (stream is null)
        {
            return null;
        }

        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(81921)]
    [InlineData((17 * 1024 * 1024) + 3)]
    public async Task PutAsync_RandomBytes_ReadBackByteForByteWithMatchingHash(int length)
    {
        var input = RandomBytes(length, seed: length);
        var key = NewKey();

        var returned = await Store.PutAsync(key, new MemoryStream(input));
        var output = await ReadAllAsync(key);

        Assert.NotNull(output);
        Assert.Equal(input.Length, output.Length);
        Assert.Equal(Sha256Hex(input), returned);
        Assert.Equal(returned, Sha256Hex(output));
        Assert.True(input.AsSpan().SequenceEqual(output), "stored bytes differ from the input");
    }

    [Fact]
    public async Task PutAsync_NonSeekableStream_StoresAllOfIt()
    {
        var input = RandomBytes(300_000, seed: 7);
        var key = NewKey();

        var returned = await Store.PutAsync(key, new ForwardOnlyStream(input));

        Assert.Equal(Sha256Hex(input), returned);
        Assert.Equal(input, await ReadAllAsync(key));
    }

    [Fact]
    public async Task PutAsync_ExistingKey_ReplacesContent()
    {
        var key = NewKey();
        await Store.PutAsync(key, new MemoryStream(RandomBytes(5000, seed: 1)));
        var second = RandomBytes(10, seed: 2);

        var returned = await Store.PutAsync(key, new MemoryStream(second));

        Assert.Equal(Sha256Hex(second), returned);
        Assert.Equal(second, await ReadAllAsync(key));
    }

    [Fact]
    public async Task OpenReadAsync_MissingKey_ReturnsNull()
    {
        Assert.Null(await Store.OpenReadAsync(NewKey()));
    }

    [Fact]
    public async Task DeleteAsync_StoredKey_RemovesItAndCanRepeat()
    {
        var key = NewKey();
        await Store.PutAsync(key, new MemoryStream([1, 2, 3]));

        await Store.DeleteAsync(key);
        await Store.DeleteAsync(key);

        Assert.Null(await Store.OpenReadAsync(key));
    }

    [Fact]
    public async Task DeleteAsync_NeverStoredKey_DoesNothing()
    {
        await Store.DeleteAsync(NewKey());
    }

    [Theory]
    [InlineData("../escaped.tfplan")]
    [InlineData("repos/../../escaped.tfplan")]
    [InlineData("/tmp/escaped.tfplan")]
    [InlineData("repos\\..\\..\\escaped.tfplan")]
    [InlineData("")]
    public async Task PutAsync_KeyEscapingRoot_ThrowsArgumentException(string key)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Store.PutAsync(key, new MemoryStream([1])));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.OpenReadAsync(key));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.DeleteAsync(key));
    }

    /// <summary>A stream that can only be read forward, like a process's stdout or an HTTP body.</summary>
    protected sealed class ForwardOnlyStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes);

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>Yields some bytes, then fails, like a terraform process killed mid-write.</summary>
    protected sealed class FailingStream(int bytesBeforeFailure) : Stream
    {
        private int _left = bytesBeforeFailure;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_left == 0)
            {
                throw new IOException("source broke");
            }

            var n = Math.Min(count, _left);
            Array.Fill(buffer, (byte)0xAB, offset, n);
            _left -= n;
            return n;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
