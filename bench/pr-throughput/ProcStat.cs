using System.Diagnostics;
using System.Globalization;

namespace Ensemble.Bench.PrThroughput;

/// <summary>CPU seconds from /proc: a process's own, its reaped descendants', every PostgreSQL process's, and ours.</summary>
public static class ProcStat
{
    // Linux reports utime/stime in clock ticks; USER_HZ is 100 on every mainstream kernel.
    private const double TicksPerSecond = 100.0;

    /// <summary>
    /// Own = utime + stime of the process; Children = cutime + cstime: every descendant the process (or a descendant)
    /// has waited for, which covers terraform-sim, bubblewrap and git once they have exited.
    /// </summary>
    public static (double Own, double Children) Process(int pid)
    {
        var fields = Fields(File.ReadAllText($"/proc/{pid}/stat"));
        return ((Tick(fields[11]) + Tick(fields[12])) / TicksPerSecond, (Tick(fields[13]) + Tick(fields[14])) / TicksPerSecond);
    }

    public static double Self()
    {
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        return self.TotalProcessorTime.TotalSeconds;
    }

    /// <summary>
    /// The cluster the App uses: its postmaster (whose cutime holds backends that exited) and every process it started
    /// (backends, background workers). Other clusters on the machine are not counted.
    /// </summary>
    public static double Postgres(int postmasterPid)
    {
        var ticks = 0L;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var fields = Fields(File.ReadAllText(Path.Combine(dir, "stat")));
                if (pid == postmasterPid || int.Parse(fields[1], CultureInfo.InvariantCulture) == postmasterPid)
                {
                    ticks += Tick(fields[11]) + Tick(fields[12]) + Tick(fields[13]) + Tick(fields[14]);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
            {
                // The process ended while we looked.
            }
        }

        return ticks / TicksPerSecond;
    }

    /// <summary>The parent of a backend is the postmaster.</summary>
    public static int ParentOf(int pid) => int.Parse(Fields(File.ReadAllText($"/proc/{pid}/stat"))[1], CultureInfo.InvariantCulture);

    public static string LoadAverage() => string.Join(' ', BenchMachine.LoadAverages());

    public static string Machine() => string.Create(CultureInfo.InvariantCulture,
        $"{Environment.ProcessorCount} cores ({BenchMachine.CpuModel()}), {BenchMachine.MemoryMiB()} MiB RAM, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}");

    // After "(comm) " field 0 is the state; utime, stime, cutime, cstime are fields 11–14.
    private static string[] Fields(string stat) => stat[(stat.LastIndexOf(')') + 2)..].Split(' ');

    private static long Tick(string field) => long.Parse(field, CultureInfo.InvariantCulture);
}

/// <summary>Percentiles of a sample, nearest-rank.</summary>
public static class Stats
{
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        var rank = (int)Math.Ceiling(p / 100.0 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    public static double Median(IReadOnlyList<double> values) => Percentile(values, 50);
}

/// <summary>Where the harness writes what it is doing (stderr; the results go to stdout as markdown).</summary>
public static class Log
{
    private static readonly Stopwatch Clock = Stopwatch.StartNew();

    public static void Line(string message) =>
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[pr-throughput {Clock.Elapsed.TotalSeconds,7:0.0}s] {message}"));
}
