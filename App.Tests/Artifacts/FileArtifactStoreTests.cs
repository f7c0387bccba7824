using Ensemble.Jobs.Artifacts;

namespace Ensemble.Tests.Artifacts;

public sealed class FileArtifactStoreTests : ArtifactStoreContract, IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"ensemble-artifacts-{Guid.NewGuid():N}");
    private readonly FileArtifactStore _store;

    public FileArtifactStoreTests()
    {
        _store = new FileArtifactStore(_root);
    }

    protected override IArtifactStore Store => _store;

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task PutAsync_Key_WritesFileAtThatPathUnderRoot()
    {
        await _store.PutAsync("repos/o/r/pulls/1/abc/_root/plan.json", new MemoryStream("{}"u8.ToArray()));

        Assert.Equal("{}", await File.ReadAllTextAsync(Path.Combine(_root, "repos", "o", "r", "pulls", "1", "abc", "_root", "plan.json")));
    }

    [Fact]
    public async Task PutAsync_NewArtifact_IsReadableByOwnerOnly()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // No Unix modes there; ACLs of the user profile apply.
        }

        var key = NewKey();

        await _store.PutAsync(key, new MemoryStream([1]));

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_root, key)));
    }

    [Fact]
    public async Task PutAsync_SourceFailsMidway_KeepsPreviousArtifactAndNoPartialFile()
    {
        var key = NewKey();
        var previous = RandomBytes(1000, seed: 3);
        await _store.PutAsync(key, new MemoryStream(previous));

        await Assert.ThrowsAsync<IOException>(() => _store.PutAsync(key, new FailingStream(200_000)));

        Assert.Equal(previous, await ReadAllAsync(key));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(Path.Combine(_root, key))!));
    }

    [Fact]
    public void Constructor_EmptyRoot_Throws()
    {
        Assert.Throws<ArgumentException>(() => new FileArtifactStore(" "));
    }
}
