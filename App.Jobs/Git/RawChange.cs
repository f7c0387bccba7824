namespace Ensemble.Jobs.Git;

/// <summary>
/// One path of <c>git diff-tree --raw</c>: modes are octal strings ("100644", "120000" symlink, "160000" submodule,
/// "000000" absent), ids are full object ids (all zeros when absent). Status is git's letter: A, D, M, T.
/// </summary>
public sealed record RawChange(string Path, string OldMode, string NewMode, string OldId, string NewId, char Status)
{
    private const string Absent = "000000";
    private const string Submodule = "160000";

    /// <summary>True when the path is a file (blob, symlinks included) after the change, as <c>ls-tree</c> lists it.</summary>
    public bool IsFileAfter => NewMode is not (Absent or Submodule);
}
