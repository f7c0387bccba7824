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
