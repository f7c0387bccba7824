using Ensemble.Jobs.Core;

namespace Ensemble.Jobs.Git;

/// <summary>
/// One path of <c>git diff-tree --raw</c>: modes are octal strings ("100644", "120000" symlink, "160000" submodule,
/// "000000" absent), ids are full object ids (all zeros when absent). Status is git's letter: A, D, M, T, and with
/// rename detection R (the file moved from <see cref="OldPath"/>) or C (copied from it).
/// </summary>
public sealed record RawChange(string Path, string OldMode, string NewMode, string OldId, string NewId, char Status, string? OldPath = null)
{
    private const string Absent = "000000";
    private const string Submodule = "160000";

    /// <summary>True when the path is a file (blob, symlinks included) after the change, as <c>ls-tree</c> lists it.</summary>
    public bool IsFileAfter => NewMode is not (Absent or Submodule);

    /// <summary>The change as <see cref="GitMirror.DiffAsync"/> reports it (a copy is a new file).</summary>
    public ChangedFile ToChangedFile() => Status switch
    {
        'A' or 'C' => new ChangedFile(Path, ChangeKind.Added),
        'M' => new ChangedFile(Path, ChangeKind.Modified),
        'D' => new ChangedFile(Path, ChangeKind.Deleted),
        'T' => new ChangedFile(Path, ChangeKind.TypeChanged),
        'R' => new ChangedFile(Path, ChangeKind.Renamed, OldPath),
        _ => throw new GitException($"Unexpected git diff status '{Status}' for '{Path}'."),
    };
}
