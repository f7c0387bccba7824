using Ensemble.Jobs.Config;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Jobs;
using Ensemble.Jobs.State;

namespace Ensemble.Tests.Jobs;

public sealed class ApplyDependenciesTests
{
    private static IReadOnlyDictionary<string, IReadOnlyList<string>> Closure(string yaml)
    {
        var parsed = EnsembleConfig.Parse(yaml);
        Assert.Empty(parsed.Errors);
        return ApplyDependencies.Closure(parsed.Config!.Projects);
    }

    private static Dictionary<string, RunStatus> Approved(params string[] projects) =>
        projects.ToDictionary(p => p, _ => RunStatus.Approved, StringComparer.Ordinal);

    [Fact]
    public void Closure_NoDependsOn_Empty()
    {
        Assert.Empty(Closure("version: 1\nprojects:\n  - path: envs/app\n"));
    }

    [Fact]
    public void Closure_Chain_EachProjectWaitsForEverythingBelowIt()
    {
        var closure = Closure("""
            version: 1
            projects:
              - path: envs/app
                depends_on: [envs/db]
              - path: envs/db
                depends_on: [envs/network]
            """);

        Assert.Equal(["envs/db", "envs/network"], closure["envs/app"]);
        Assert.Equal(["envs/network"], closure["envs/db"]);
        Assert.False(closure.ContainsKey("envs/network"));
    }

    [Fact]
    public void Closure_UnchangedProjectInTheMiddle_StillOrdersTheEnds()
    {
        // Only app and network are in the merge; db (between them) is not, and must not break the order.
        var closure = Closure("""
            version: 1
            projects:
              - path: envs/app
                depends_on: [envs/db]
              - path: envs/db
                depends_on: [envs/network]
            """);
        var statuses = Approved("envs/app", "envs/network");

        Assert.IsType<DependencyGate.Ready>(ApplyVerification.Gate("envs/network", closure, statuses));
        var wait = Assert.IsType<DependencyGate.Wait>(ApplyVerification.Gate("envs/app", closure, statuses));
        Assert.Equal(["envs/network"], wait.Pending);
    }

    [Fact]
    public void Closure_IndependentProjects_BothReadyAtOnce()
    {
        var closure = Closure("""
            version: 1
            projects:
              - path: envs/app
                depends_on: [envs/network]
            """);
        var statuses = Approved("envs/app", "envs/network", "envs/other");

        Assert.IsType<DependencyGate.Ready>(ApplyVerification.Gate("envs/network", closure, statuses));
        Assert.IsType<DependencyGate.Ready>(ApplyVerification.Gate("envs/other", closure, statuses));
        Assert.IsType<DependencyGate.Wait>(ApplyVerification.Gate("envs/app", closure, statuses));
    }

    [Fact]
    public void Closure_Cycle_BothProjectsBlockedNamingTheCycleNotWaitingForever()
    {
        var closure = Closure("""
            version: 1
            projects:
              - path: a
                depends_on: [b]
              - path: b
                depends_on: [c]
              - path: c
                depends_on: [a]
            """);
        var statuses = Approved("a", "b");

        Assert.DoesNotContain("a", closure["a"]);
        var a = Assert.IsType<DependencyGate.Blocked>(ApplyVerification.Gate("a", closure, statuses));
        var b = Assert.IsType<DependencyGate.Blocked>(ApplyVerification.Gate("b", closure, statuses));
        Assert.Contains("cycle (a → b → a)", a.Reason, StringComparison.Ordinal);
        Assert.Contains("cycle (b → a → b)", b.Reason, StringComparison.Ordinal);
    }
}
