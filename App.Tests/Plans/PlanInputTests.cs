using Ensemble.Jobs.Plans;

namespace Ensemble.Tests.Plans;

/// <summary>PlanDocument.Parse(Stream) and ParseAsync: any stream gives exactly what the same bytes give.</summary>
public class PlanInputTests
{
    private static readonly PlanRenderContext Context = new("envs/prod", "https://ensemble.example.com/plans/t");

    public static TheoryData<bool> Seekable() => new() { true, false };

    [Theory]
    [MemberData(nameof(Seekable))]
    public async Task ParseAsync_BigPlanInSmallReads_SameFingerprintAndRenderingAsBytes(bool seekable)
    {
        // Several MiB in 7,000-byte reads: resources straddle chunk boundaries when the length is not known.
        var bytes = PlanFixtures.Generated(3_000, mixed: true);
        var fromBytes = PlanFixtures.Load(bytes);

        var parsed = await PlanDocument.ParseAsync(new TrickleStream(bytes, 7_000, seekable));

        Assert.True(parsed.IsSuccess, parsed.Error);
        Assert.Equal(PlanFingerprint.Compute(fromBytes), PlanFingerprint.Compute(parsed.Plan!));
        Assert.Equal(PlanRenderer.RenderFull(fromBytes, Context), PlanRenderer.RenderFull(parsed.Plan!, Context));
        Assert.Equal(PlanRenderer.Render(fromBytes, Context), PlanRenderer.Render(parsed.Plan!, Context));
    }

    [Theory]
    [MemberData(nameof(Seekable))]
    public void Parse_FileStream_SameAsBytes(bool seekable)
    {
        var bytes = PlanFixtures.Bytes("tfjson-1.13-import-identity.json");

        var parsed = PlanDocument.Parse(new TrickleStream(bytes, 100, seekable));

        Assert.True(parsed.IsSuccess, parsed.Error);
        Assert.Equal(PlanRenderer.Render(PlanFixtures.Load(bytes), Context), PlanRenderer.Render(parsed.Plan!, Context));
    }

    [Theory]
    [InlineData("invalid-tfjson-trailing-data.json")]
    [InlineData("borchero-1.13-terragrunt-concatenated.json")]
    [InlineData("checkov-1.0-utf16le-bom.json")]
    [InlineData("invalid-infracost-setup-terraform-wrapper.json")]
    public void Parse_InvalidFileFromAStream_SameReasonAsFromBytes(string fixture)
    {
        var bytes = PlanFixtures.Bytes(fixture);

        var parsed = PlanDocument.Parse(new TrickleStream(bytes, 50, seekable: false));

        Assert.False(parsed.IsSuccess);
        Assert.Equal(PlanDocument.Parse(bytes).Error, parsed.Error);
    }

    [Fact]
    public void Parse_EmptyStream_SaysEmpty()
    {
        var parsed = PlanDocument.Parse(new MemoryStream());

        Assert.Contains("empty", parsed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_StreamLongerThanItsLengthSaid_ReadsToTheEnd()
    {
        var bytes = PlanFixtures.Generated(20, mixed: true);

        var parsed = PlanDocument.Parse(new TrickleStream(bytes, 1_000, seekable: true, announcedLength: 100));

        Assert.Equal(20, parsed.Plan!.ResourceChanges.Count);
    }

    /// <summary>Hands out at most <c>chunk</c> bytes a read; optionally hides its length, or announces a wrong one.</summary>
    private sealed class TrickleStream(byte[] bytes, int chunk, bool seekable, long? announcedLength = null) : Stream
    {
        private int _position;

        public override bool CanRead => true;
        public override bool CanSeek => seekable;
        public override bool CanWrite => false;
        public override long Length => seekable ? announcedLength ?? bytes.Length : throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(Math.Min(count, chunk), bytes.Length - _position);
            Array.Copy(bytes, _position, buffer, offset, n);
            _position += n;
            return n;
        }
    }
}
