using System.Text;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Git;

namespace Ensemble.Tests.Git;

public sealed class GitOutputTests
{
    [Fact]
    public void ParseNameStatus_AllKinds_MapsEachWithRenameOldPath()
    {
        var output = Encoding.UTF8.GetBytes("A\0new file.tf\0M\0mod.tf\0D\0gone.tf\0T\0link.tf\0R087\0old/a.tf\0new/a.tf\0");

        var changes = GitOutput.ParseNameStatus(output);

        Assert.Equal(
            [
                new ChangedFile("new file.tf", ChangeKind.Added),
                new ChangedFile("mod.tf", ChangeKind.Modified),
                new ChangedFile("gone.tf", ChangeKind.Deleted),
                new ChangedFile("link.tf", ChangeKind.TypeChanged),
                new ChangedFile("new/a.tf", ChangeKind.Renamed, "old/a.tf"),
            ],
            changes);
    }

    [Fact]
    public void ParseNameStatus_Empty_NoChanges() => Assert.Empty(GitOutput.ParseNameStatus([]));

    [Theory]
    [InlineData("A\0")]
    [InlineData("R100\0only-one-path\0")]
    [InlineData("X\0what.tf\0")]
    public void ParseNameStatus_Malformed_Throws(string output) =>
        Assert.Throws<GitException>(() => GitOutput.ParseNameStatus(Encoding.UTF8.GetBytes(output)));

    [Fact]
    public void ParseLsTree_BlobsAndSubmodule_KeepsBlobsOnly()
    {
        var output = Encoding.UTF8.GetBytes(
            "100644 blob 1111111111111111111111111111111111111111\ta\tb.tf\0" +
            "160000 commit 2222222222222222222222222222222222222222\tvendor/sub\0" +
            "120000 blob 3333333333333333333333333333333333333333\tlink\nname\0");

        var files = GitOutput.ParseLsTree(output);

        Assert.Equal(
            [new TreeFile("a\tb.tf", "1111111111111111111111111111111111111111"), new TreeFile("link\nname", "3333333333333333333333333333333333333333")],
            files);
    }

    [Fact]
    public async Task ReadLsTreeAsync_OutputArrivingInSmallPieces_ParsesEveryRecordLikeTheBufferedParser()
    {
        var records = string.Concat(Enumerable.Range(0, 500).Select(i =>
            i % 7 == 0
                ? $"160000 commit {i:x40}\tvendor/sub{i}\0"
                : $"100644 blob {i % 50:x40}\tdir {i % 13}/{new string('é', i % 40)}file{i}.tf\0"));
        var output = Encoding.UTF8.GetBytes(records);

        var files = await GitOutput.ReadLsTreeAsync(new TrickleStream(output, 7), CancellationToken.None);

        Assert.Equal(GitOutput.ParseLsTree(output), files);
        Assert.Equal(428, files.Count);
    }

    [Fact]
    public async Task ReadLsTreeAsync_PathLongerThanTheBuffer_ReadsItWhole()
    {
        var path = new string('a', 200_000) + ".tf";
        var output = Encoding.UTF8.GetBytes($"100644 blob {1:x40}\t{path}\0");

        var files = await GitOutput.ReadLsTreeAsync(new MemoryStream(output), CancellationToken.None);

        Assert.Equal(path, Assert.Single(files).Path);
    }

    [Theory]
    [InlineData("100644 blob 1111\tshort-id.tf\0")]
    [InlineData("100644 blob 1111111111111111111111111111111111111111 no-tab.tf\0")]
    [InlineData("garbage\0")]
    public async Task ReadLsTreeAsync_Malformed_Throws(string output) =>
        await Assert.ThrowsAsync<GitException>(() => GitOutput.ReadLsTreeAsync(new MemoryStream(Encoding.UTF8.GetBytes(output)), CancellationToken.None));

    [Fact]
    public void ParseRawDiff_AddModifyDeleteTypeChange_CarriesModesAndIds()
    {
        var a = new string('a', 40);
        var b = new string('b', 40);
        var zero = new string('0', 40);
        var output = Encoding.UTF8.GetBytes(
            $":000000 100644 {zero} {a} A\0new\tfile.tf\0" +
            $":100644 100755 {a} {b} M\0run.sh\0" +
            $":100644 000000 {a} {zero} D\0gone.tf\0" +
            $":100644 120000 {a} {b} T\0link.tf\0" +
            $":000000 160000 {zero} {b} A\0vendor/sub\0");

        var changes = GitOutput.ParseRawDiff(output);

        Assert.Equal(
            [
                new RawChange("new\tfile.tf", "000000", "100644", zero, a, 'A'),
                new RawChange("run.sh", "100644", "100755", a, b, 'M'),
                new RawChange("gone.tf", "100644", "000000", a, zero, 'D'),
                new RawChange("link.tf", "100644", "120000", a, b, 'T'),
                new RawChange("vendor/sub", "000000", "160000", zero, b, 'A'),
            ],
            changes);
        Assert.Equal([true, true, false, true, false], changes.Select(c => c.IsFileAfter));
    }

    [Fact]
    public void ParseRawDiff_RenameAndCopy_CarryTheOldPath()
    {
        var changes = GitOutput.ParseRawDiff(Encoding.UTF8.GetBytes(":100644 100644 a b R087\0old.tf\0new.tf\0:100644 100644 a a C100\0src\0copy\0"));

        Assert.Equal(
            [new RawChange("new.tf", "100644", "100644", "a", "b", 'R', "old.tf"), new RawChange("copy", "100644", "100644", "a", "a", 'C', "src")],
            changes);
        Assert.Equal(
            [new ChangedFile("new.tf", ChangeKind.Renamed, "old.tf"), new ChangedFile("copy", ChangeKind.Added)],
            changes.Select(c => c.ToChangedFile()));
    }

    [Theory]
    [InlineData(":100644 100644 a b R100\0only-one-path\0")]
    [InlineData(":100644 100644 a b\0path\0")]
    [InlineData(":100644 100644 a b M\0")]
    public void ParseRawDiff_RenameOrMalformed_Throws(string output) =>
        Assert.Throws<GitException>(() => GitOutput.ParseRawDiff(Encoding.UTF8.GetBytes(output)));

    [Fact]
    public void ReadBatch_SmallReadsAndBlobLargerThanTheBuffer_ReadsEveryBlobWhole()
    {
        var large = new string('x', 200_000);
        var text = $"aaaa blob 3\nabc\nbbbb blob {large.Length}\n{large}\ncccc missing\ndddd blob 0\n\n";
        var contents = new Dictionary<string, byte[]>();
        var missing = new List<string>();

        GitOutput.ReadBatch(new TrickleStream(Encoding.UTF8.GetBytes(text), 3), 4, contents, missing);
        GitOutput.ReadBatch(new MemoryStream(Encoding.UTF8.GetBytes(text)), 4, contents, missing);

        Assert.Equal("abc", Encoding.UTF8.GetString(contents["aaaa"]));
        Assert.Equal(large, Encoding.UTF8.GetString(contents["bbbb"]));
        Assert.Empty(contents["dddd"]);
        Assert.Equal(["cccc", "cccc"], missing);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(4096)]
    public void ReadBatch_SpanHandlerOverSmallReads_SeesEachBlobsOwnContent(int chunk)
    {
        var blobs = Enumerable.Range(0, 300).Select(i => ($"{i:x8}", new string((char)('a' + i % 26), i % 97) + $"#{i}")).ToList();
        var text = string.Concat(blobs.Select(b => $"{b.Item1} blob {b.Item2.Length}\n{b.Item2}\n"));
        var seen = new List<(string, string)>();

        GitOutput.ReadBatch(new TrickleStream(Encoding.ASCII.GetBytes(text), chunk), null,
            (id, content) => seen.Add((Encoding.ASCII.GetString(id), Encoding.ASCII.GetString(content))), new List<string>());

        Assert.Equal(blobs, seen);
    }

    [Theory]
    [InlineData("aaaa blob 3\nabc\n", 2)]
    [InlineData("aaaa blob x\nabc\n", 1)]
    [InlineData("aaaa blob 3\nabcd", 1)]
    [InlineData("aaaa blob", 1)]
    public void ReadBatch_MalformedOrShort_ThrowsGitException(string output, int count) =>
        Assert.Throws<GitException>(() => GitOutput.ReadBatch(new MemoryStream(Encoding.UTF8.GetBytes(output)), count, new Dictionary<string, byte[]>(), new List<string>()));

    [Fact]
    public void ReadBatch_ContentContainingHeaderLikeBytes_ReadsBySize()
    {
        var output = new MemoryStream(Encoding.UTF8.GetBytes("aaaa blob 13\nx\nbbbb blob 3\nbbbb missing\n"));
        var contents = new Dictionary<string, byte[]>();
        var missing = new List<string>();

        GitOutput.ReadBatch(output, 2, contents, missing);

        Assert.Equal("x\nbbbb blob 3", Encoding.UTF8.GetString(contents["aaaa"]));
        Assert.Equal(["bbbb"], missing);
    }

    [Fact]
    public void ReadBatch_TruncatedOutput_Throws()
    {
        var output = new MemoryStream(Encoding.UTF8.GetBytes("aaaa blob 12\nshort"));

        Assert.ThrowsAny<Exception>(() => GitOutput.ReadBatch(output, 1, new Dictionary<string, byte[]>(), new List<string>()));
    }
}

/// <summary>A pipe that hands out at most a few bytes per read, as a busy git process might.</summary>
internal sealed class TrickleStream(byte[] data, int chunk) : MemoryStream(data)
{
    public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, chunk));

    public override int Read(Span<byte> buffer) => base.Read(buffer[..Math.Min(buffer.Length, chunk)]);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        base.ReadAsync(buffer[..Math.Min(buffer.Length, chunk)], cancellationToken);
}
