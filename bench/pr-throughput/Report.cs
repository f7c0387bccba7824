using System.Globalization;
using System.Text;

namespace Ensemble.Bench.PrThroughput;

/// <summary>The results as markdown tables for docs/benchmarks.md.</summary>
public static class Report
{
    public static string Markdown(BenchOptions options, string machine, Throughput.Result? throughput, Pickup.Result? pickup)
    {
        var md = new StringBuilder();
        void Line(FormattableString text) => md.AppendLine(text.ToString(CultureInfo.InvariantCulture));
        Line($"- Machine: {machine}");
        Line($"- Date: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Line($"- Command: `{options.Command ?? "bench/pr-throughput/run.sh"}`");
        if (throughput is { } t)
        {
            Line($"- Runner `{t.Runner}`, App log level `{t.LogLevel}`, stand-in `{t.StandIn}`, {t.Workers} Hangfire workers; load average {t.LoadBefore} before, {t.LoadAfter} after");
            md.AppendLine();
            Line($"| run | projects | webhook ack ms | first check run s | all check runs s | first final s | half final s | all final s | aggregate final s | App CPU ms/project | terraform-sim + git CPU ms/project | PostgreSQL CPU ms/project | harness (WireMock) CPU ms/project | S3 server CPU ms/project | machine CPU ms/project | GitHub requests/project | App idle CPU ms/s before | load average after |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
            foreach (var r in new[] { t.Warmup }.Concat(t.Runs))
            {
                var n = (double)r.Projects;
                var tl = r.Timeline;
                Line($"| {(r.Run == 0 ? "warm-up" : r.Run.ToString(CultureInfo.InvariantCulture))} | {r.Projects} | {tl.AckMs:0} | {tl.FirstCheckRunMs / 1000:0.00} | {tl.AllCheckRunsMs / 1000:0.00} | {tl.FirstCompletedMs / 1000:0.00} | {tl.HalfCompletedMs / 1000:0.00} | **{tl.AllCompletedMs / 1000:0.00}** | {tl.AggregateMs / 1000:0.00} | **{r.Cpu.App * 1000 / n:0.0}** | {r.Cpu.Children * 1000 / n:0.0} | {r.Cpu.Postgres * 1000 / n:0.0} | {r.Cpu.Harness * 1000 / n:0.0} | {r.Cpu.S3 * 1000 / n:0.0} | {r.Cpu.Machine * 1000 / n:0.0} | {r.GitHubRequests / n:0.00} | {r.AppIdleCpuPerSecond * 1000:0} | {r.LoadAverage} |");
            }

            md.AppendLine();
            Line($"Conclusions of the last run: {string.Join(", ", t.Runs[^1].Conclusions.Select(kv => $"{kv.Value} {kv.Key}"))}.");
            md.AppendLine();
            Line($"GitHub requests of the last run, by kind: {string.Join("; ", t.Runs[^1].RequestKinds.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} × {kv.Value}"))}.");
            md.AppendLine();
            Line($"Hangfire's own numbers for the last run (Latency = job created → execution started; Duration = execution), ms:");
            md.AppendLine();
            md.AppendLine("| job | count | latency p50 | latency p95 | latency max | duration p50 | duration p95 | duration sum |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var j in t.Runs[^1].Jobs)
            {
                Line($"| {j.Job} | {j.Count} | {j.LatencyP50:0} | {j.LatencyP95:0} | {j.LatencyMax:0} | {j.DurationP50:0} | {j.DurationP95:0} | {j.DurationSum:0} |");
            }
        }

        if (pickup is { } p)
        {
            md.AppendLine();
            Line($"Pickup latency, {p.Workers} workers, idle server; enqueue → the job method starts (UTC clock of the enqueuer vs the worker):");
            md.AppendLine();
            foreach (var (settings, described) in p.Options)
            {
                Line($"- {settings}: {described}");
            }

            md.AppendLine();
            md.AppendLine("| settings | enqueued from | jobs | started | p50 ms | p95 ms | max ms | mean ms | over 1 s | Enqueue call p50 ms |");
            md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var s in p.Samples)
            {
                Line($"| {s.Settings} | {s.Enqueuer} | {s.Jobs} | {s.Started} | **{s.P50:0.0}** | {s.P95:0.0} | {s.Max:0.0} | {s.Mean:0.0} | {s.OverOneSecond} | {(double.IsNaN(s.EnqueueCallP50) ? "–" : s.EnqueueCallP50.ToString("0.0", CultureInfo.InvariantCulture))} |");
            }
        }

        return md.ToString();
    }
}
