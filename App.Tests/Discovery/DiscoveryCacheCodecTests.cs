using Ensemble.Jobs.Discovery;

namespace Ensemble.Tests.Discovery;

public class DiscoveryCacheCodecTests
{
    private static readonly Guid Version = Guid.Parse("6b1d0a52-3c1e-4a8e-9f0e-2f1a7c3d9b10");

    private static readonly KeyValuePair<string, HclFacts>[] Facts =
    [
        new("a1", HclScanner.Scan("terraform {\n  backend \"s3\" {}\n  required_version = \"~> 1.6\"\n}\nmodule \"m\" {\n  source = \"../m\"\n}\n")),
        new("b2.json", JsonConfigScanner.Scan("""{"locals": {"x": "${file(\"${path.module}/p.json\")}"}, "module": {"r": {"source": "hashicorp/x/aws"}}}""")),
        new("c3", HclScanner.Scan("terraform {\n  backend \"gcs\" {\n")),
        new("d4", HclScanner.Scan("")),
    ];

    private static string Describe(HclFacts f) =>
        $"{f.Backend} [{string.Join(", ", f.Modules)}] {f.RequiredVersion} [{string.Join(", ", f.ReadFiles)}] [{string.Join(", ", f.Problems)}]";

    [Fact]
    public void DecodeFacts_WhatWasEncoded_ReturnsEqualFacts()
    {
        var decoded = DiscoveryCacheCodec.DecodeFacts(DiscoveryCacheCodec.EncodeFacts(Facts, Version), Version);

        Assert.NotNull(decoded);
        Assert.Equal(Facts.Select(f => (f.Key, Describe(f.Value))), decoded.Select(f => (f.Key, Describe(f.Value))));
        Assert.Contains("Source = ../m", Describe(Facts[0].Value), StringComparison.Ordinal); // the sample is not empty
    }

    [Fact]
    public void DecodeFiles_WhatWasEncoded_ReturnsEqualFiles()
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal) { ["a/main.tf"] = "x1", ["b/main.tf"] = "x1", ["c/x.tf.json"] = "y2" };

        var decoded = DiscoveryCacheCodec.DecodeFiles(DiscoveryCacheCodec.EncodeFiles("c0ffee", files, Version), "c0ffee", Version);

        Assert.Equal(files.OrderBy(f => f.Key, StringComparer.Ordinal), decoded!.OrderBy(f => f.Key, StringComparer.Ordinal));
    }

    [Fact]
    public void Decode_EveryTruncation_IsRejected()
    {
        var facts = DiscoveryCacheCodec.EncodeFacts(Facts, Version);
        var files = DiscoveryCacheCodec.EncodeFiles("c0ffee", new Dictionary<string, string> { ["a.tf"] = "x" }, Version);

        for (var length = 0; length < facts.Length; length++)
        {
            Assert.Null(DiscoveryCacheCodec.DecodeFacts(facts[..length], Version));
        }
        for (var length = 0; length < files.Length; length++)
        {
            Assert.Null(DiscoveryCacheCodec.DecodeFiles(files[..length], "c0ffee", Version));
        }
    }

    [Fact]
    public void Decode_AnyFlippedByte_IsRejected()
    {
        var bytes = DiscoveryCacheCodec.EncodeFacts(Facts, Version);

        for (var i = 0; i < bytes.Length; i++)
        {
            var corrupted = bytes.ToArray();
            corrupted[i] ^= 0x20; // e.g. "s3" → "S3": still decodable, but not what was written
            Assert.Null(DiscoveryCacheCodec.DecodeFacts(corrupted, Version));
        }
    }

    [Fact]
    public void Decode_OtherBuildKindOrCommit_IsRejected()
    {
        var facts = DiscoveryCacheCodec.EncodeFacts(Facts, Version);
        var files = DiscoveryCacheCodec.EncodeFiles("c0ffee", new Dictionary<string, string> { ["a.tf"] = "x" }, Version);

        Assert.Null(DiscoveryCacheCodec.DecodeFacts(facts, Guid.NewGuid())); // another scanner may scan differently
        Assert.Null(DiscoveryCacheCodec.DecodeFacts(files, Version));
        Assert.Null(DiscoveryCacheCodec.DecodeFiles(facts, "c0ffee", Version));
        Assert.Null(DiscoveryCacheCodec.DecodeFiles(files, "beef", Version));
        Assert.Null(DiscoveryCacheCodec.DecodeFacts([], Version));
    }
}
