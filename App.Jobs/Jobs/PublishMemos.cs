using Ensemble.Jobs.Core;
using Ensemble.Jobs.State;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// The I/O around <see cref="PublishGate"/>: reads what a GitHub object last showed, decides, and for a deferred view
/// has one catch-up scheduled (by the caller, who knows which job republishes it). Callers hold the object's lock.
/// </summary>
public sealed class PublishMemos(IStateStore state, TimeProvider time)
{
    /// <summary>Whether to send <paramref name="digest"/> to <paramref name="target"/> now; if deferred, <paramref name="scheduleCatchUp"/> gets the delay.</summary>
    public async Task<bool> ShouldSendAsync(string target, string digest, bool interim, Action<TimeSpan> scheduleCatchUp, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var last = await state.GetPublishedAsync(target, ct);
        switch (PublishGate.Decide(last, digest, interim, now, PlanJob.ProgressInterval))
        {
            case PublishDecision.Skip:
                return false;
            case PublishDecision.Defer:
                await ScheduleCatchUpAsync(target, last!, now, scheduleCatchUp, ct);
                return false;
            default:
                return true;
        }
    }

    /// <summary>
    /// For a head's aggregate, before it is rendered: true (with a catch-up scheduled) when plans of the head are under
    /// way, so its next view is interim, and <see cref="ShouldSendAsync"/> would defer any interim view now: the view
    /// need not be rendered at all.
    /// </summary>
    public async Task<bool> DefersWhilePlanningAsync(long headId, string target, Action<TimeSpan> scheduleCatchUp, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var last = await state.GetPublishedWhilePlanningAsync(headId, target, ct);
        if (!PublishGate.DefersAnyInterim(last, now, PlanJob.ProgressInterval))
        {
            return false;
        }

        await ScheduleCatchUpAsync(target, last!, now, scheduleCatchUp, ct);
        return true;
    }

    private async Task ScheduleCatchUpAsync(string target, PublishedMemo last, DateTimeOffset now, Action<TimeSpan> scheduleCatchUp, CancellationToken ct)
    {
        // A catch-up still to come (flush_due only ever moves later) makes the claim below a certain no-op: skip it.
        if (last.FlushDue is { } pending && pending >= now)
        {
            return;
        }

        var due = PublishGate.DueAt(last, PlanJob.ProgressInterval);
        if (await state.TryScheduleFlushAsync(target, due, now, ct))
        {
            scheduleCatchUp(due - now);
        }
    }

    /// <summary>Records what <paramref name="target"/> shows now.</summary>
    public Task SentAsync(string target, string digest, bool interim, CancellationToken ct) =>
        state.RecordPublishedAsync(target, digest, interim, time.GetUtcNow(), ct);
}
