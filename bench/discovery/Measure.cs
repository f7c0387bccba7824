using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Ensemble.Bench.Discovery;

/// <summary>Median wall time, CPU (this process plus the git processes it waited for) and memory of repeated runs.</summary>
internal sealed record Measurement(string Name, int Runs, double MedianMs, double MinMs, double MedianCpuMs, long PeakWorkingSet, long MedianAllocated)
{
    public static async Task<Measurement> RepeatAsync(string name, int runs, Func<Task<int>> run, Func<Task>? prepare = null)
    {
        var wall = new List<double>();
        var cpu = new List<double>();
        var allocated = new List<long>();
        long peak = 0;
        for (var i = 0; i < runs; i++)
        {
            if (prepare is not null)
            {
                await prepare();
            }

            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            using var sampler = new PeakSampler();
            var cpuBefore = ProcessCpu.TotalMs();
            var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
            var watch = Stopwatch.StartNew();
            await run();
            wall.Add(watch.Elapsed.TotalMilliseconds);
            allocated.Add(GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore);
            cpu.Add(ProcessCpu.TotalMs() - cpuBefore);
            peak = Math.Max(peak, sampler.Stop());
        }

        var measurement = new Measurement(name, runs, Median(wall), wall.Min(), Median(cpu), peak, (long)Median(allocated.Select(a => (double)a).ToList()));
        Console.WriteLine($"{name}: median {measurement.MedianMs:F0} ms (runs: {string.Join(", ", wall.Select(w => w.ToString("F0", CultureInfo.InvariantCulture)))})");
        return measurement;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}

internal static class Measure
{
    public static Task<Measurement> RepeatAsync(string name, int runs, Func<Task<int>> run, Func<Task>? prepare = null) =>
        Measurement.RepeatAsync(name, runs, run, prepare);
}

/// <summary>CPU time from /proc/self/stat: user + system of this process and of its reaped children (the git processes).</summary>
internal static class ProcessCpu
{
    private static readonly double TickMs = 1000.0 / 100; // USER_HZ is 100 on Linux

    public static double TotalMs()
    {
        if (!File.Exists("/proc/self/stat"))
        {
            return Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds;
        }

        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // After "pid (comm) ": field 3 is state, so utime (14) is index 11, stime 12, cutime 13, cstime 14.
        return Enumerable.Range(11, 4).Sum(i => long.Parse(fields[i], CultureInfo.InvariantCulture)) * TickMs;
    }
}

/// <summary>Samples this process's working set every few milliseconds: the peak of one run, not of the whole benchmark.</summary>
internal sealed class PeakSampler : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task<long> _task;

    public PeakSampler() => _task = Task.Run(async () =>
    {
        using var process = Process.GetCurrentProcess();
        long peak = 0;
        while (!_stop.IsCancellationRequested)
        {
            process.Refresh();
            peak = Math.Max(peak, process.WorkingSet64);
            try
            {
                await Task.Delay(5, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        process.Refresh();
        return Math.Max(peak, process.WorkingSet64);
    });

    public long Stop()
    {
        _stop.Cancel();
        return _task.GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }
}

internal static class Report
{
    public static string Table(IReadOnlyList<Measurement> measurements)
    {
        var floor = measurements[0].MedianMs;
        var text = new StringBuilder();
        text.AppendLine("| measurement | runs | median wall | min wall | × floor | median CPU (incl. git) | peak working set | allocated (median) |");
        text.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var m in measurements)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {m.Name} | {m.Runs} | {m.MedianMs:F0} ms | {m.MinMs:F0} ms | {m.MedianMs / floor:F2} | {m.MedianCpuMs:F0} ms | {m.PeakWorkingSet / (1024 * 1024)} MiB | {m.MedianAllocated / (1024 * 1024)} MiB |");
        }

        return text.ToString().TrimEnd();
    }
}

/// <summary>Runs git on the benchmark repository (no shell), returning stdout; throws with stderr on failure.</summary>
internal static class Git
{
    public static async Task<byte[]> RunAsync(string gitDir, IReadOnlyList<string> arguments, Stream? input = null, string? workingDirectory = null)
    {
        var startInfo = new ProcessStartInfo("git")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? "",
        };
        startInfo.ArgumentList.Add($"--git-dir={gitDir}");
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        startInfo.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        startInfo.Environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
        using var process = Process.Start(startInfo)!;
        var error = process.StandardError.ReadToEndAsync();
        var write = Task.Run(async () =>
        {
            await using var stdin = process.StandardInput.BaseStream;
            if (input is not null)
            {
                await input.CopyToAsync(stdin);
            }
        });
        using var output = new MemoryStream();
        await process.StandardOutput.BaseStream.CopyToAsync(output);
        await write;
        await process.WaitForExitAsync();
        return process.ExitCode == 0
            ? output.ToArray()
            : throw new InvalidOperationException($"git {string.Join(' ', arguments)} failed: {await error}");
    }
}
