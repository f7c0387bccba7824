using Ensemble.Jobs.Core;

namespace Ensemble.Tests.Core;

public sealed class BaseMoveTests
{
    // A PR branched from "before": it changed the project (dev-2) and left the modules as they were.
    private static readonly Dictionary<string, string?> Planned = new(StringComparer.Ordinal)
    {
        ["envs/dev"] = "dev-2",
        ["modules/net"] = "net-1",
        ["modules/dns"] = "dns-1",
    };

    private static readonly Dictionary<string, string?> Before = new(StringComparer.Ordinal)
    {
        ["envs/dev"] = "dev-1",
        ["modules/net"] = "net-1",
        ["modules/dns"] = "dns-1",
    };

    private static Dictionary<string, string?> After(params (string Path, string? Tree)[] changes)
    {
        var after = new Dictionary<string, string?>(Before, StringComparer.Ordinal);
        foreach (var (path, tree) in changes)
        {
            after[path] = tree;
        }

        return after;
    }

    [Fact]
    public void StaleInputs_PushChangedNoInput_PlanStands()
    {
        Assert.Empty(BaseMove.StaleInputs(Planned, Before, After()));
    }

    [Fact]
    public void StaleInputs_PushChangedAModuleItUses_ThatModule()
    {
        Assert.Equal(["modules/net"], BaseMove.StaleInputs(Planned, Before, After(("modules/net", "net-2"))));
    }

    [Fact]
    public void StaleInputs_PushChangedTheProjectAndRemovedAModule_BothSorted()
    {
        Assert.Equal(["envs/dev", "modules/dns"], BaseMove.StaleInputs(Planned, Before, After(("envs/dev", "dev-3"), ("modules/dns", null))));
    }

    [Fact]
    public void StaleInputs_PushBroughtExactlyThePlannedContent_PlanStands()
    {
        // This PR's own change landing (a squash or rebase merge): the plan is what the branch now holds.
        Assert.Empty(BaseMove.StaleInputs(Planned, Before, After(("envs/dev", "dev-2"))));
    }

    [Fact]
    public void StaleInputs_BaseDivergedBeforeButThisPushLeftItAlone_PlanStands()
    {
        // main already differed from the branch in modules/net before this push; the push did not touch it.
        var before = new Dictionary<string, string?>(Before, StringComparer.Ordinal) { ["modules/net"] = "net-0" };
        var after = new Dictionary<string, string?>(before, StringComparer.Ordinal);

        Assert.Empty(BaseMove.StaleInputs(Planned, before, after));
    }

    [Fact]
    public void StaleInputs_BeforeUnknown_EveryInputDifferentFromThePlanCounts()
    {
        Assert.Equal(["envs/dev", "modules/net"], BaseMove.StaleInputs(Planned, null, After(("modules/net", "net-2"))));
    }

    [Fact]
    public void Reason_FileInputs_NamedAsFilesItReads()
    {
        var reason = BaseMove.Reason("envs/dev", ["modules/net", "shared/prod.json"], "0123456789abcdef0123456789abcdef01234567", ["shared/prod.json"]);

        Assert.Contains("`modules/net` (a module it uses), `shared/prod.json` (a file it reads)", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Reason_NamesTheChangedInputsTheCommitAndWhatToDo()
    {
        var reason = BaseMove.Reason("envs/dev", ["envs/dev", "modules/net"], "0123456789abcdef0123456789abcdef01234567");

        Assert.Contains("`envs/dev` (the project), `modules/net` (a module it uses)", reason, StringComparison.Ordinal);
        Assert.Contains("0123456", reason, StringComparison.Ordinal);
        Assert.DoesNotContain("01234567", reason, StringComparison.Ordinal);
        Assert.Contains("merge or rebase the default branch", reason, StringComparison.Ordinal);
    }
}
