using System.Diagnostics;
using System.Globalization;

namespace Ensemble.Bench.WebhookLoad;

/// <summary>CPU time of the target process, of every PostgreSQL process and of this harness, from /proc.</summary>
public static class CpuMeter
{
    // Linux reports utime/stime in clock ticks; USER_HZ is 100 on every mainstream kernel.
    private const double TicksPerSecond = 100.0;

    public static (TimeSpan Target, double PostgresSeconds, TimeSpan Harness) Read(ChildProcess target)
    {
        using var self = Process.GetCurrentProcess();
        return (target.CpuTime, PostgresSeconds(), self.TotalProcessorTime);
    }

    public static CpuUse Between((TimeSpan Target, double PostgresSeconds, TimeSpan Harness) before, (TimeSpan Target, double PostgresSeconds, TimeSpan Harness) after) =>
        new((after.Target - before.Target).TotalSeconds, after.PostgresSeconds - before.PostgresSeconds, (after.Harness - before.Harness).TotalSeconds);

    private static double PostgresSeconds()
    {
        // Backends come and go; the sum over living ones is right as long as the pool keeps its connections (it does).
        var ticks = 0L;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var open = stat.IndexOf('(', StringComparison.Ordinal);
                var close = stat.LastIndexOf(')');
                if (open < 0 || close < open || stat[(open + 1)..close] != "postgres")
                {
                    continue;
                }
                var fields = stat[(close + 2)..].Split(' ');
                // After "(comm) ", field 0 is state; utime and stime are fields 11 and 12.
                ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
            {
                // The process ended while we looked, or it is not ours to read.
            }
        }
        return ticks / TicksPerSecond;
    }
}
