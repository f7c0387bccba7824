using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Ensemble.Jobs.Plans;
using Ensemble.Tests.Plans;

// Parse + render of a generated plan, side by side with a bare JsonDocument.Parse of the same bytes.
//   dotnet run -c Release --project bench/render [-- --resources 10000 --runs 15 --mixed]
// Time: median and best of N, interleaved in one process, on bytes already in memory. Memory: each case in a fresh child
// process that starts from the file on disk (as production does) and reads it itself, so one case's garbage and pooled
// buffers never count towards another's peak, and the file's own bytes count wherever a case holds them.
var options = Options.From(args);
if (options.Child is { } child)
{
    return Child.Run(child, options.File!);
}

var file = Path.Combine(Path.GetTempPath(), $"ensemble-bench-plan-{options.Resources}{(options.Mixed ? "-mixed" : "")}.json");
var bytes = PlanGenerator.Generate(options.Resources, i => options.Mixed ? i % 3 : 0);
File.WriteAllBytes(file, bytes);
Console.WriteLine($"Plan: {options.Resources:N0} resources ({(options.Mixed ? "creates, replaces and destroys" : "all creates")}), {bytes.Length:N0} bytes, {file}");
Console.WriteLine($".NET {Environment.Version}, {Environment.ProcessorCount} cores, {(Debugger.IsAttached ? "debugger attached" : "no debugger")}, " +
                  $"{(typeof(PlanRenderer).Assembly.GetCustomAttributes(typeof(DebuggableAttribute), false).OfType<DebuggableAttribute>().Any(d => d.IsJITOptimizerDisabled) ? "DEBUG build: numbers are meaningless" : "optimised build")}");

var time = Child.Spawn("time", file, options.Runs);
Console.WriteLine();
Console.WriteLine(time);
Console.WriteLine("Memory (fresh process each, reading the file itself; deltas over the warmed-up process before the work):");
Console.WriteLine($"  {"case",-44} {"peak resident (VmHWM)",22} {"managed heap retained",22} {"allocated",16} {"GCs",4}");
foreach (var mode in new[] { "mem-bare", "mem-bytes", "mem-parse", "mem-render", "mem-job", "mem-full" })
{
    Console.WriteLine("  " + Child.Spawn(mode, file, options.Runs).Trim());
}

Console.WriteLine($"  (ratios are to the file size, {bytes.Length:N0} bytes = {Mb(bytes.Length)}; goal: peak of parse + Render ≤ 2×)");
return 0;

static string Mb(long bytes) => $"{bytes / 1024.0 / 1024.0:F1} MiB";

internal sealed record Options(int Resources, int Runs, bool Mixed, string? Child, string? File)
{
    public static Options From(string[] args)
    {
        int resources = 10_000, runs = 15;
        var mixed = false;
        string? child = null, file = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--resources": resources = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--runs": runs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--mixed": mixed = true; break;
                case "--child": child = args[++i]; file = args[++i]; break;
                default: throw new ArgumentException($"unknown argument '{args[i]}'; use --resources N, --runs N, --mixed");
            }
        }

        return new Options(resources, runs, mixed, child, file);
    }
}

internal static class Child
{
    private static readonly PlanRenderContext Context = new("big", "https://ensemble.example.com/plans/token");

    public static string Spawn(string mode, string file, int runs)
    {
        var self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        // Under `dotnet run` the process is the app host; under `dotnet render-bench.dll` it is dotnet itself.
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            start.ArgumentList.Add(typeof(Child).Assembly.Location);
        }

        foreach (var a in new[] { "--runs", runs.ToString(CultureInfo.InvariantCulture), "--child", mode, file })
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 ? output : throw new InvalidOperationException($"child {mode} exited {process.ExitCode}: {output}");
    }

    public static int Run(string mode, string file)
    {
        if (mode == "time")
        {
            return Time(File.ReadAllBytes(file));
        }

        var size = new FileInfo(file).Length;
        return mode switch
        {
            // What the goal compares against: the file's bytes plus a JsonDocument over them.
            "mem-bare" => Memory("ReadAllBytes + JsonDocument.Parse", size, () => JsonDocument.Parse(File.ReadAllBytes(file))),
            // The route callers used before PlanDocument.Parse(Stream): a byte array, then parse.
            "mem-bytes" => Memory("ReadAllBytes + PlanDocument.Parse", size, () => PlanDocument.Parse(File.ReadAllBytes(file)).Plan!),
            "mem-parse" => Memory("PlanDocument.Parse(file stream), plan kept", size, () => ParseFile(file)),
            "mem-render" => Memory("parse(file) + Render (check run)", size, () => PlanRenderer.Render(ParseFile(file), Context)),
            "mem-job" => Memory("parse(file) + fingerprint + Render (PlanJob)", size, () =>
            {
                var plan = ParseFile(file);
                return (PlanFingerprint.Compute(plan), PlanRenderer.Render(plan, Context));
            }),
            "mem-full" => Memory("parse(file) + RenderFull (full-plan page)", size, () => PlanRenderer.RenderFull(ParseFile(file), Context)),
            _ => throw new ArgumentException($"unknown mode {mode}"),
        };
    }

    private static PlanDocument ParseFile(string file)
    {
        using var stream = File.OpenRead(file);
        return PlanDocument.Parse(stream).Plan!;
    }

    private static int Time(byte[] bytes)
    {
        var runs = int.Parse(Environment.GetCommandLineArgs().SkipWhile(a => a != "--runs").Skip(1).First(), CultureInfo.InvariantCulture);
        object? kept = null;
        // The bare parse keeps its document alive, as a parsed plan does.
        var cases = new (string Name, Action Work)[]
        {
            ("JsonDocument.Parse", () => kept = JsonDocument.Parse(bytes)),
            ("parse + Render (check run)", () => kept = PlanRenderer.Render(PlanDocument.Parse(bytes).Plan!, Context)),
            ("parse only (PlanDocument.Parse)", () => kept = PlanDocument.Parse(bytes)),
            ("parse + RenderFull (full-plan page)", () => kept = PlanRenderer.RenderFull(PlanDocument.Parse(bytes).Plan!, Context)),
        };
        var samples = cases.Select(_ => new List<double>()).ToArray();
        foreach (var c in cases)
        {
            c.Work(); // JIT and first-touch costs out of the way
        }

        for (var run = 0; run < runs; run++)
        {
            // Interleaved: a busy shared machine slows every case alike.
            for (var i = 0; i < cases.Length; i++)
            {
                kept = null;
                GC.Collect();
                GC.WaitForPendingFinalizers();
                var watch = Stopwatch.StartNew();
                cases[i].Work();
                watch.Stop();
                samples[i].Add(watch.Elapsed.TotalMilliseconds);
            }
        }

        GC.KeepAlive(kept);
        Console.WriteLine($"Time ({runs} runs, interleaved, after a warm-up run; ratio to JsonDocument.Parse):");
        Console.WriteLine($"  {"case",-36} {"median",9}    {"ratio",6}  {"best",9}    {"ratio",6}");
        var bareMedian = Median(samples[0]);
        var bareBest = samples[0].Min();
        for (var i = 0; i < cases.Length; i++)
        {
            var median = Median(samples[i]);
            var best = samples[i].Min();
            Console.WriteLine($"  {cases[i].Name,-36} {median,9:F1} ms {median / bareMedian,5:F2}×  {best,9:F1} ms {best / bareBest,5:F2}×");
        }

        return 0;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static int Memory(string name, long fileSize, Func<object> work)
    {
        // Warm up on a tiny plan, through the same code paths, so JIT'd code is not counted as the work's memory.
        var tiny = Path.Combine(Path.GetTempPath(), $"ensemble-bench-tiny-{Environment.ProcessId}.json");
        File.WriteAllBytes(tiny, PlanGenerator.Generate(3, i => i % 3));
        GC.KeepAlive(PlanRenderer.RenderFull(ParseFile(tiny), Context));
        GC.KeepAlive(PlanFingerprint.Compute(ParseFile(tiny)));
        GC.KeepAlive(PlanDocument.Parse(File.ReadAllBytes(tiny)));
        GC.KeepAlive(JsonDocument.Parse(File.ReadAllBytes(tiny)));
        File.Delete(tiny);

        // Baseline: everything collected and compacted, then the kernel's high-water mark of the resident set is reset,
        // so the peak read afterwards is this work's and not start-up's. Without that reset there is no honest peak here.
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        if (!TryResetPeak())
        {
            throw new InvalidOperationException("cannot reset the resident-set high-water mark (/proc/self/clear_refs): no honest peak to report");
        }

        var residentBefore = ReadStatus("VmRSS:");
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var collectionsBefore = GC.CollectionCount(0);

        var result = work();

        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        // With no collection during the work, nothing was freed: the managed heap's peak is exactly what was allocated.
        var collections = GC.CollectionCount(0) - collectionsBefore;
        var peak = ReadStatus("VmHWM:") - residentBefore;
        var retained = GC.GetTotalMemory(forceFullCollection: true) - heapBefore;
        GC.KeepAlive(result);
        Console.WriteLine($"{name,-44} {Cell(peak, fileSize),22} {Cell(retained, fileSize),22} {Cell(allocated, fileSize),16} {collections,4}");
        return 0;
    }

    private static bool TryResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>A size from /proc/self/status in bytes: VmRSS (resident set now), VmHWM (its high-water mark).</summary>
    private static long ReadStatus(string field)
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith(field, StringComparison.Ordinal));
        return long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }

    private static string Cell(long value, long fileSize) => $"{value / 1024.0 / 1024.0:F1} MiB {(double)value / fileSize:F2}×";
}
