using System.Diagnostics;

namespace Ensemble.Bench.WebhookLoad;

/// <summary>Samples of one phase plus how long it took and how late the generator itself was.</summary>
public sealed record PhaseRun(IReadOnlyList<Sample> Samples, TimeSpan Elapsed, double MaxSendLagMs);

public static class LoadGenerator
{
    /// <summary>
    /// Open loop: request i is due at start + i/rate whatever happened to the earlier ones, and its latency counts from
    /// that due time, so a stalled server is charged for the queue it causes (no coordinated omission).
    /// </summary>
    public static async Task<PhaseRun> FixedRateAsync(WebhookSender sender, Uri target, int rate, TimeSpan duration, string idPrefix)
    {
        var total = (int)(rate * duration.TotalSeconds);
        var tasks = new Task<Sample>[total];
        var maxLagTicks = 0L;
        var started = Stopwatch.GetTimestamp();
        // A dedicated thread keeps the schedule even when the thread pool is busy with responses.
        var scheduler = new Thread(() =>
        {
            for (var i = 0; i < total; i++)
            {
                var due = started + (long)(i * (double)Stopwatch.Frequency / rate);
                while (Stopwatch.GetTimestamp() < due)
                {
                    Thread.Sleep(TimeSpan.FromTicks(Math.Max(1, Math.Min(TimeSpan.TicksPerMillisecond, (due - Stopwatch.GetTimestamp()) * TimeSpan.TicksPerSecond / Stopwatch.Frequency))));
                }
                maxLagTicks = Math.Max(maxLagTicks, Stopwatch.GetTimestamp() - due);
                var id = $"{idPrefix}{i:D6}";
                tasks[i] = Task.Run(() => sender.SendAsync(target, id, due));
            }
        }) { IsBackground = true, Name = "fixed-rate scheduler", Priority = ThreadPriority.AboveNormal };
        scheduler.Start();
        await Task.Run(scheduler.Join);
        var samples = await Task.WhenAll(tasks);
        var elapsed = Stopwatch.GetElapsedTime(started);
        return new PhaseRun(samples, elapsed, maxLagTicks * 1000.0 / Stopwatch.Frequency);
    }

    /// <summary>Closed loop: <paramref name="concurrency"/> connections each send the next request as soon as the last is answered.</summary>
    public static async Task<PhaseRun> MaxThroughputAsync(WebhookSender sender, Uri target, int concurrency, TimeSpan duration, string idPrefix)
    {
        var started = Stopwatch.GetTimestamp();
        var deadline = started + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var next = -1;
        var lanes = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            var mine = new List<Sample>();
            while (Stopwatch.GetTimestamp() < deadline)
            {
                var id = $"{idPrefix}{Interlocked.Increment(ref next):D6}";
                mine.Add(await sender.SendAsync(target, id, Stopwatch.GetTimestamp()));
            }
            return mine;
        })).ToList();
        var all = await Task.WhenAll(lanes);
        return new PhaseRun(all.SelectMany(x => x).ToList(), Stopwatch.GetElapsedTime(started), 0);
    }
}
