using Ensemble.Jobs.Core;
using Ensemble.Jobs.Jobs;
using Hangfire;
using Hangfire.Common;
using Hangfire.States;

namespace Ensemble.Tests.Jobs;

public sealed class BaseMoveJobTests
{
    private sealed class RecordingJobs : IBackgroundJobClient
    {
        public List<(Job Job, IState State)> Created { get; } = [];

        public string Create(Job job, IState state)
        {
            Created.Add((job, state));
            return Created.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        public bool ChangeState(string jobId, IState state, string expectedState) => throw new NotSupportedException();
    }

    private static readonly RepoRef Repo = new(7, "octo-org", "infra");

    [Fact]
    public void Schedule_WithTheSettleDelay_ScheduledThatFarAheadWithThePush()
    {
        var jobs = new RecordingJobs();

        BaseMoveJob.Schedule(jobs, Repo, "main", new string('a', 40), new string('b', 40), TimeSpan.FromSeconds(30));

        var (job, state) = Assert.Single(jobs.Created);
        var scheduled = Assert.IsType<ScheduledState>(state);
        Assert.InRange(scheduled.EnqueueAt - DateTime.UtcNow, TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(30));
        Assert.Equal(typeof(BaseMoveJob), job.Type);
        Assert.Equal([7L, "octo-org", "infra", "main", new string('a', 40), new string('b', 40)], job.Args.Take(6));
    }

    [Fact]
    public void Schedule_NoDelay_EnqueuedAtOnce()
    {
        var jobs = new RecordingJobs();

        BaseMoveJob.Schedule(jobs, Repo, "main", new string('a', 40), new string('b', 40), TimeSpan.Zero);

        Assert.IsType<EnqueuedState>(Assert.Single(jobs.Created).State);
    }
}
