using Ensemble.Jobs.Core;
using Ensemble.Jobs.State;

namespace Ensemble.Tests.Core;

public sealed class ApplyVerificationTests
{
    private const string Hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    private const string OtherHash = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

    private static readonly Dictionary<string, string?> Planned = new(StringComparer.Ordinal)
    {
        ["envs/dev"] = "tree-dev-1",
        ["modules/net"] = "tree-net-1",
        ["modules/dns"] = "tree-dns-1",
    };

    private static ApplyEvidence Evidence(
        string? recorded = Hash, string? downloaded = Hash, IReadOnlyDictionary<string, string?>? merged = null, bool destroy = false, string? approved = Hash) =>
        new("envs/dev", destroy, recorded, approved, downloaded, Planned, merged ?? new Dictionary<string, string?>(Planned));

    private static Dictionary<string, string?> MergedWith(string path, string? tree) => new(Planned, StringComparer.Ordinal) { [path] = tree };

    [Fact]
    public void Verify_SameHashAndSameTrees_Ok()
    {
        Assert.IsType<ApplyVerdict.Ok>(ApplyVerification.Verify(Evidence()));
    }

    [Fact]
    public void Verify_HashDiffersOnlyInLetterCase_Ok()
    {
        Assert.IsType<ApplyVerdict.Ok>(ApplyVerification.Verify(Evidence(downloaded: Hash.ToUpperInvariant())));
    }

    [Fact]
    public void Verify_ArtifactAltered_RefusedNamingBothHashes()
    {
        var refused = Assert.IsType<ApplyVerdict.Refused>(ApplyVerification.Verify(Evidence(downloaded: OtherHash)));
        Assert.Contains("changed after it was approved", refused.Reason, StringComparison.Ordinal);
        Assert.Contains(OtherHash[..12], refused.Reason, StringComparison.Ordinal);
        Assert.Contains(Hash[..12], refused.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_ArtifactMissing_Refused()
    {
        var refused = Assert.IsType<ApplyVerdict.Refused>(ApplyVerification.Verify(Evidence(downloaded: null)));
        Assert.Contains("missing", refused.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void Verify_NoRecordedHash_Refused(string? recorded)
    {
        var refused = Assert.IsType<ApplyVerdict.Refused>(ApplyVerification.Verify(Evidence(recorded: recorded)));
        Assert.Contains("no plan file hash was recorded", refused.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_NoApprovalRecordedForThisPlan_Refused()
    {
        var refused = Assert.IsType<ApplyVerdict.Refused>(ApplyVerification.Verify(Evidence(approved: null)));
        Assert.Contains("no approval", refused.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_ApprovedHashDiffersFromRecorded_RefusedEvenIfArtifactMatchesRecorded()
    {
        var refused = Assert.IsType<ApplyVerdict.Refused>(ApplyVerification.Verify(Evidence(approved: OtherHash)));
        Assert.Contains("replaced after it was approved", refused.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_ProjectDirectoryChangedByTheMerge_RefusedNamingTheProject()
    {
        var refused = Assert.IsType<ApplyVerdict.Refused>(ApplyVerification.Verify(Evidence(merged: MergedWith("envs/dev", "tree-dev-2"))));
        Assert.Contains("`envs/dev` (the project)", refused.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("modules/", refused.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_UsedModuleChangedByTheMerge_RefusedNamingTheModule()
    {
        var refused = Assert.IsType<ApplyVerdict.Refused>(ApplyVerification.Verify(Evidence(merged: MergedWith("modules/dns", "tree-dns-2"))));
        Assert.Contains("`modules/dns` (a module it uses)", refused.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("envs/dev", refused.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_FileItReadsChangedByTheMerge_RefusedNamingTheFile()
    {
        var planned = new Dictionary<string, string?>(Planned, StringComparer.Ordinal) { ["policies/net.json"] = "blob-1" };
        var merged = new Dictionary<string, string?>(planned, StringComparer.Ordinal) { ["policies/net.json"] = "blob-2" };
        var evidence = new ApplyEvidence("envs/dev", false, Hash, Hash, Hash, planned, merged) { Files = ["policies/net.json"] };

        var refused = Assert.IsType<ApplyVerdict.Refused>(ApplyVerification.Verify(evidence));

        Assert.Contains("`policies/net.json` (a file it reads)", refused.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_ModuleRemovedByTheMerge_Refused()
    {
        Assert.IsType<ApplyVerdict.Refused>(ApplyVerification.Verify(Evidence(merged: MergedWith("modules/net", null))));
    }

    [Fact]
    public void Verify_OtherPathsChangedButInputsNot_Ok()
    {
        var merged = new Dictionary<string, string?>(Planned, StringComparer.Ordinal) { ["envs/prod"] = "changed-elsewhere" };
        Assert.IsType<ApplyVerdict.Ok>(ApplyVerification.Verify(Evidence(merged: merged)));
    }

    [Fact]
    public void Verify_HashCheckedBeforeTrees_ArtifactReasonWins()
    {
        var refused = Assert.IsType<ApplyVerdict.Refused>(ApplyVerification.Verify(Evidence(downloaded: OtherHash, merged: MergedWith("envs/dev", "x"))));
        Assert.Contains("SHA-256", refused.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_DestroyOfProjectStillDeletedInMerge_Ok()
    {
        Assert.IsType<ApplyVerdict.Ok>(ApplyVerification.Verify(Evidence(destroy: true, merged: MergedWith("envs/dev", null))));
    }

    [Fact]
    public void Verify_DestroyOfProjectThatExistsAgainInMerge_Refused()
    {
        var refused = Assert.IsType<ApplyVerdict.Refused>(ApplyVerification.Verify(Evidence(destroy: true, merged: MergedWith("envs/dev", "back"))));
        Assert.Contains("exists again", refused.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_PlannedTreesWithoutTheProject_ThrowsBecauseTheCallerIsWrong()
    {
        var evidence = new ApplyEvidence("envs/dev", false, Hash, Hash, Hash, new Dictionary<string, string?> { ["modules/net"] = "t" }, new Dictionary<string, string?>());
        Assert.Throws<ArgumentException>(() => ApplyVerification.Verify(evidence));
    }

    // ---- dependency gate ----------------------------------------------------------------------------------------

    private static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> NoDependencies = new Dictionary<string, IReadOnlyList<string>>();

    private static IReadOnlyDictionary<string, IReadOnlyList<string>> Deps(params (string Project, string[] On)[] pairs) =>
        pairs.ToDictionary(p => p.Project, p => (IReadOnlyList<string>)p.On, StringComparer.Ordinal);

    private static Dictionary<string, RunStatus> Statuses(params (string Project, RunStatus Status)[] pairs) =>
        pairs.ToDictionary(p => p.Project, p => p.Status, StringComparer.Ordinal);

    [Fact]
    public void Gate_NoDeclaredDependencies_Ready()
    {
        Assert.IsType<DependencyGate.Ready>(ApplyVerification.Gate("app", NoDependencies, Statuses(("app", RunStatus.Approved), ("net", RunStatus.Approved))));
    }

    [Theory]
    [InlineData(RunStatus.Approved)]
    [InlineData(RunStatus.Applying)]
    public void Gate_DependencyNotYetApplied_WaitsForIt(RunStatus dependency)
    {
        var gate = ApplyVerification.Gate("app", Deps(("app", ["net"])), Statuses(("app", RunStatus.Approved), ("net", dependency)));
        Assert.Equal(["net"], Assert.IsType<DependencyGate.Wait>(gate).Pending);
    }

    [Theory]
    [InlineData(RunStatus.Applied)]
    [InlineData(RunStatus.NoChanges)]
    public void Gate_DependencyDone_Ready(RunStatus dependency)
    {
        Assert.IsType<DependencyGate.Ready>(ApplyVerification.Gate("app", Deps(("app", ["net"])), Statuses(("app", RunStatus.Approved), ("net", dependency))));
    }

    [Fact]
    public void Gate_DependencyNotInThisMerge_Ignored()
    {
        Assert.IsType<DependencyGate.Ready>(ApplyVerification.Gate("app", Deps(("app", ["elsewhere"])), Statuses(("app", RunStatus.Approved))));
    }

    [Fact]
    public void Gate_DependencyApplyFailed_BlockedNamingIt()
    {
        var gate = ApplyVerification.Gate("app", Deps(("app", ["net"])), Statuses(("app", RunStatus.Approved), ("net", RunStatus.ApplyFailed)));
        Assert.Contains("`net`, whose apply failed", Assert.IsType<DependencyGate.Blocked>(gate).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Gate_DependencyMergedWithoutApproval_Blocked()
    {
        var gate = ApplyVerification.Gate("app", Deps(("app", ["net"])), Statuses(("app", RunStatus.Approved), ("net", RunStatus.Abandoned)));
        Assert.Contains("without an approved plan", Assert.IsType<DependencyGate.Blocked>(gate).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Gate_FailureWinsOverPending_Blocked()
    {
        var gate = ApplyVerification.Gate("app", Deps(("app", ["a", "b"])),
            Statuses(("app", RunStatus.Approved), ("a", RunStatus.Approved), ("b", RunStatus.ApplyFailed)));
        Assert.IsType<DependencyGate.Blocked>(gate);
    }

    [Fact]
    public void Gate_ChainOfThree_OnlyTheRootIsReady()
    {
        var deps = Deps(("app", ["db"]), ("db", ["net"]));
        var statuses = Statuses(("app", RunStatus.Approved), ("db", RunStatus.Approved), ("net", RunStatus.Approved));
        Assert.IsType<DependencyGate.Ready>(ApplyVerification.Gate("net", deps, statuses));
        Assert.IsType<DependencyGate.Wait>(ApplyVerification.Gate("db", deps, statuses));
        Assert.IsType<DependencyGate.Wait>(ApplyVerification.Gate("app", deps, statuses));
    }

    [Fact]
    public void Gate_Cycle_BlockedShowingTheCycle()
    {
        var deps = Deps(("a", ["b"]), ("b", ["c"]), ("c", ["a"]));
        var statuses = Statuses(("a", RunStatus.Approved), ("b", RunStatus.Approved), ("c", RunStatus.Approved));
        var gate = Assert.IsType<DependencyGate.Blocked>(ApplyVerification.Gate("a", deps, statuses));
        Assert.Contains("a → b → c → a", gate.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Gate_SelfDependency_Ignored()
    {
        Assert.IsType<DependencyGate.Ready>(ApplyVerification.Gate("a", Deps(("a", ["a"])), Statuses(("a", RunStatus.Approved))));
    }
}
