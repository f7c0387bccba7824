namespace Ensemble.Jobs.Core;

/// <summary>A repository as Ensemble knows it: the installation that grants access, and its full name.</summary>
public sealed record RepoRef(long InstallationId, string Owner, string Name)
{
    public string FullName => $"{Owner}/{Name}";
    public override string ToString() => FullName;
}

/// <summary>A changed path between two commits, as git reports it (renames carry the old path).</summary>
public sealed record ChangedFile(string Path, ChangeKind Kind, string? OldPath = null);

public enum ChangeKind { Added, Modified, Deleted, Renamed, TypeChanged }

/// <summary>One entry of a commit's tree: a file's repo-relative path and its git blob id.</summary>
public sealed record TreeFile(string Path, string BlobId);
