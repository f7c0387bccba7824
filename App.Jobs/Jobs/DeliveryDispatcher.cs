using Ensemble.Jobs.State;
using Hangfire;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// Moves recorded deliveries into Hangfire, off the webhook's request path: the answer to GitHub costs one INSERT, and
/// enqueueing (several round trips in Hangfire's storage) happens here in batches. Woken at once by the ingress in
/// this process and every few seconds anyway, so deliveries recorded by another web process or before a crash are
/// never stranded.
/// </summary>
public sealed partial class DeliveryDispatcher(IStateStore state, IBackgroundJobClient jobs, TimeProvider time, ILogger<DeliveryDispatcher> logger)
    : BackgroundService
{
    private const int Batch = 200;
    private readonly SemaphoreSlim _wake = new(0, 1);

    public static TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long an enqueued delivery may stay unprocessed before it is enqueued again.</summary>
    public static TimeSpan StaleAfter { get; set; } = TimeSpan.FromMinutes(10);

    public void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            try
            {
                _wake.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already awake.
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var lastSweep = DateTimeOffset.MinValue;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var now = time.GetUtcNow();
                if (now - lastSweep > StaleAfter / 4)
                {
                    lastSweep = now;
                    if (await state.ReleaseStaleDeliveriesAsync(now - StaleAfter, stoppingToken) is > 0 and var released)
                    {
                        LogReleased(logger, released);
                    }
                }

                IReadOnlyList<string> claimed;
                do
                {
                    claimed = await state.ClaimDeliveriesToEnqueueAsync(Batch, time.GetUtcNow(), stoppingToken);
                    foreach (var id in claimed)
                    {
                        jobs.Enqueue<DeliveryJob>(job => job.RunAsync(id, CancellationToken.None));
                    }
                }
                while (claimed.Count == Batch && !stoppingToken.IsCancellationRequested);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is System.Data.Common.DbException or InvalidOperationException or TimeoutException)
            {
                // The database is briefly unreachable: deliveries stay recorded and are dispatched on a later pass.
                LogDispatchFailed(logger, e.Message);
            }

            try
            {
                await _wake.WaitAsync(PollInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Re-enqueueing {Count} deliveries that were enqueued but never processed")]
    private static partial void LogReleased(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not dispatch deliveries, will retry: {Reason}")]
    private static partial void LogDispatchFailed(ILogger logger, string reason);
}
