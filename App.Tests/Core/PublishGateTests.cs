using Ensemble.Jobs.Core;
using Ensemble.Jobs.State;

namespace Ensemble.Tests.Core;

public sealed class PublishGateTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    private static PublishedMemo Last(string digest, bool interim) => new(digest, interim, T0, null);

    [Fact]
    public void Decide_NothingPublishedYet_Publishes() =>
        Assert.Equal(PublishDecision.Publish, PublishGate.Decide(null, "a", interim: true, T0, Interval));

    [Fact]
    public void Decide_SameViewAgain_Skipped() =>
        Assert.Equal(PublishDecision.Skip, PublishGate.Decide(Last("a", interim: false), "a", interim: false, T0.AddMinutes(5), Interval));

    [Fact]
    public void Decide_InterimReplacingInterimWithinInterval_Deferred() =>
        Assert.Equal(PublishDecision.Defer, PublishGate.Decide(Last("a", interim: true), "b", interim: true, T0.AddSeconds(1), Interval));

    [Fact]
    public void Decide_InterimReplacingInterimAfterInterval_Publishes() =>
        Assert.Equal(PublishDecision.Publish, PublishGate.Decide(Last("a", interim: true), "b", interim: true, T0 + Interval, Interval));

    [Fact]
    public void Decide_FinalViewRightAfterInterim_PublishedAtOnce() =>
        Assert.Equal(PublishDecision.Publish, PublishGate.Decide(Last("a", interim: true), "b", interim: false, T0.AddMilliseconds(10), Interval));

    [Fact]
    public void Decide_InterimRightAfterFinal_PublishedAtOnce()
    {
        // "All approved" (final) must never stay on GitHub while a re-plan (interim) is under way.
        Assert.Equal(PublishDecision.Publish, PublishGate.Decide(Last("a", interim: false), "b", interim: true, T0.AddMilliseconds(10), Interval));
    }

    [Fact]
    public void DueAt_OneIntervalAfterTheLastPublish() =>
        Assert.Equal(T0 + Interval, PublishGate.DueAt(Last("a", interim: true), Interval));

    [Fact]
    public void Digest_DiffersByAnyPartAndByWherePartsSplit()
    {
        Assert.Equal(PublishGate.Digest("a", "b"), PublishGate.Digest("a", "b"));
        Assert.NotEqual(PublishGate.Digest("a", "b"), PublishGate.Digest("a", "c"));
        Assert.NotEqual(PublishGate.Digest("ab", ""), PublishGate.Digest("a", "b"));
        Assert.NotEqual(PublishGate.Digest("a", null), PublishGate.Digest("a", ""));
    }

    [Theory]
    [InlineData(true, 1, true)]    // interim shown a second ago: any interim view waits
    [InlineData(true, 5, false)]   // the interval has passed
    [InlineData(false, 1, false)]  // a final view is showing: the next interim one goes out at once
    public void DefersAnyInterim_OnlyWithinTheIntervalOfAnInterimView(bool lastInterim, int secondsLater, bool defers) =>
        Assert.Equal(defers, PublishGate.DefersAnyInterim(Last("a", lastInterim), T0.AddSeconds(secondsLater), Interval));

    [Fact]
    public void DefersAnyInterim_NothingShownYet_False() =>
        Assert.False(PublishGate.DefersAnyInterim(null, T0, Interval));
}
