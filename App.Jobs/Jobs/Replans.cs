using Ensemble.Jobs.Core.Approvals;
using Ensemble.Jobs.State;
using Hangfire;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// Puts a finished run back in the queue (Re-plan button, Re-run, <c>/ensemble replan</c>, a base move): the run goes
/// back to <c>queued</c>, gets a fresh queued check run that says why, and a plan job. An identical new plan is
/// approved again by <see cref="PlanJob"/> (auto-approval), so a re-plan never costs an approval for nothing.
/// </summary>
public sealed class Replans(IStateStore state, ProjectCheckRuns checkRuns, IBackgroundJobClient jobs, TimeProvider time)
{
    /// <summary>False when the run is not in a state that may be re-planned (it is queued or running already, or applied).</summary>
    public async Task<bool> RequeueAsync(PullRequestHead head, ProjectRun run, string reason, CancellationToken ct)
    {
        var replan = new RunEvent.Replan();
        if (await state.TransitionRunAsync(run.Id, RunStateMachine.SourcesOf(replan), new RunUpdate(RunStateMachine.TargetOf(replan), time.GetUtcNow()), ct) is null)
        {
            return false;
        }

        var checkRunId = await checkRuns.CreateQueuedAsync(head, run, reason + ".", ct);
        await state.SetRunCheckRunAsync(run.Id, checkRunId, ct);
        jobs.Enqueue<PlanJob>(job => job.RunAsync(run.Id, CancellationToken.None));
        return true;
    }
}
