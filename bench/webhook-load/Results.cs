using System.Globalization;
using System.Text;

namespace Ensemble.Bench.WebhookLoad;

public sealed record LatencySummary(double P50, double P90, double P99, double Max)
{
    /// <summary>Nearest-rank percentiles over every sample, failed ones included (a timeout is a slow answer, not a missing one).</summary>
    public static LatencySummary Of(IReadOnlyList<double> latenciesMs)
    {
        if (latenciesMs.Count == 0)
        {
            return new(double.NaN, double.NaN, double.NaN, double.NaN);
        }
        var sorted = latenciesMs.Order().ToArray();
        double Rank(double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
        return new(Rank(0.50), Rank(0.90), Rank(0.99), sorted[^1]);
    }
}

/// <summary>CPU seconds each party spent during one phase, read from the OS.</summary>
public sealed record CpuUse(double TargetSeconds, double PostgresSeconds, double HarnessSeconds);

/// <summary>One measured phase against one target.</summary>
public sealed record PhaseResult(
    string Target, string Load, int Sent, int Accepted, int Errors, double AchievedPerSecond,
    LatencySummary Latency, double MaxSendLagMs, CpuUse Cpu, TimeSpan Elapsed, string? FirstProblem)
{
    public bool IsFixedRate => Load.EndsWith("/s", StringComparison.Ordinal);

    public static PhaseResult From(string target, string load, PhaseRun run, CpuUse cpu)
    {
        var accepted = run.Samples.Count(s => s.Accepted);
        var problem = run.Samples.FirstOrDefault(s => !s.Accepted) is { DeliveryId: not null } bad
            ? bad.Error ?? $"HTTP {bad.Status}"
            : null;
        // Throughput counts what was acknowledged, over the time until the last answer arrived.
        return new(target, load, run.Samples.Count, accepted, run.Samples.Count - accepted, accepted / run.Elapsed.TotalSeconds,
            LatencySummary.Of(run.Samples.Select(s => s.LatencyMs).ToList()), run.MaxSendLagMs, cpu, run.Elapsed, problem);
    }
}

/// <summary>What the database says after a target's phases: every acknowledged delivery must be there exactly once.</summary>
public sealed record DeliveryAudit(string Target, int AcknowledgedIds, int Rows, int MissingAcknowledged, int RedeliveryRows, bool RedeliveryBothAcknowledged)
{
    public bool Passed => MissingAcknowledged == 0 && RedeliveryRows == 1 && RedeliveryBothAcknowledged && Rows >= AcknowledgedIds;
}

public sealed record Machine(int Cores, string Cpu, long MemoryMb, string Os, string Runtime);

public sealed record BenchReport(
    Machine Machine, DateTimeOffset Date, string Command, BenchOptions Options,
    IReadOnlyList<PhaseResult> Phases, IReadOnlyList<DeliveryAudit> Audits, IReadOnlyList<string> Notes)
{
    public const string Heading = "## Webhook ingress";
    private const double P99GoalMs = 50;
    private const double ThroughputGoalRatio = 0.5;

    private static string F(double v, string format = "0.0") => double.IsNaN(v) ? "–" : v.ToString(format, CultureInfo.InvariantCulture);

    public IReadOnlyList<(string Goal, string Measured, bool? Passed)> Goals()
    {
        var goals = new List<(string, string, bool?)>();
        var bareMax = Phases.FirstOrDefault(p => p.Target == "bare" && !p.IsFixedRate);
        foreach (var fixedRate in Phases.Where(p => p.Target.StartsWith("app", StringComparison.Ordinal) && p.IsFixedRate))
        {
            goals.Add(($"ack p99 ≤ {P99GoalMs} ms at {Options.Rate}/s, {fixedRate.Target}",
                $"p99 {F(fixedRate.Latency.P99)} ms, {fixedRate.Errors} errors", fixedRate.Latency.P99 <= P99GoalMs && fixedRate.Errors == 0));
        }
        foreach (var max in Phases.Where(p => p.Target.StartsWith("app", StringComparison.Ordinal) && !p.IsFixedRate))
        {
            var ratio = bareMax is null ? double.NaN : max.AchievedPerSecond / bareMax.AchievedPerSecond;
            goals.Add(($"throughput ≥ {ThroughputGoalRatio:P0} of bare, {max.Target}",
                $"{F(max.AchievedPerSecond, "0")}/s vs {F(bareMax?.AchievedPerSecond ?? double.NaN, "0")}/s = {F(ratio * 100, "0")} %",
                double.IsNaN(ratio) ? null : ratio >= ThroughputGoalRatio));
        }
        foreach (var audit in Audits)
        {
            goals.Add(($"no delivery lost, redelivery stored once, {audit.Target}",
                $"{audit.AcknowledgedIds} acknowledged ids, {audit.Rows} rows, {audit.MissingAcknowledged} missing; redelivery rows {audit.RedeliveryRows}",
                audit.Passed));
        }
        return goals;
    }

    public string ToMarkdown()
    {
        var md = new StringBuilder();
        md.AppendLine(Heading).AppendLine();
        md.AppendLine($"Signed `pull_request.synchronize` deliveries ({F(PayloadKb, "0.0")} KB, real payload, new `X-GitHub-Delivery` each) sent over loopback "
            + "to the real App (PostgreSQL state + Hangfire.PostgreSql) and, in the same run, to a bare ASP.NET Core endpoint that only reads the body and answers 202. "
            + "Open-loop load: each request is due at a fixed time and its latency counts from that time, so stalls are not hidden (no coordinated omission). "
            + "The generator runs on the same machine and takes its share of the CPU.").AppendLine();
        md.AppendLine($"- Machine: {Machine.Cores} cores ({Machine.Cpu}), {Machine.MemoryMb} MB RAM, {Machine.Os}, .NET {Machine.Runtime}");
        md.AppendLine($"- Date: {Date:yyyy-MM-dd HH:mm} UTC");
        md.AppendLine($"- Command: `{Command}`");
        md.AppendLine($"- Load: warm-up {Options.Warmup.TotalSeconds:0} s at {Options.Rate}/s (not measured), then {Options.Rate}/s for {Options.Duration.TotalSeconds:0} s; "
            + $"then max throughput with {Options.Concurrency} concurrent connections for {Options.MaxDuration.TotalSeconds:0} s. "
            + "`app (web)` runs Ensemble:Role=web (no worker in the process); `app (all)` also runs the Hangfire worker, whose jobs fail fast against a dead loopback GitHub API and are retried.");
        md.AppendLine();
        md.AppendLine("| target | load | sent | 2xx | errors | achieved /s | p50 ms | p90 ms | p99 ms | max ms | CPU ms/req target | CPU ms/req postgres | CPU ms/req harness |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var p in Phases)
        {
            double PerReq(double seconds) => p.Sent == 0 ? double.NaN : seconds * 1000 / p.Sent;
            md.AppendLine($"| {p.Target} | {p.Load} | {p.Sent} | {p.Accepted} | {p.Errors} | {F(p.AchievedPerSecond, "0")} | {F(p.Latency.P50)} | {F(p.Latency.P90)} | {F(p.Latency.P99)} | {F(p.Latency.Max)} | {F(PerReq(p.Cpu.TargetSeconds), "0.00")} | {F(PerReq(p.Cpu.PostgresSeconds), "0.00")} | {F(PerReq(p.Cpu.HarnessSeconds), "0.00")} |");
        }
        md.AppendLine();
        md.AppendLine("| goal | measured | result |");
        md.AppendLine("|---|---|---|");
        foreach (var (goal, measured, passed) in Goals())
        {
            md.AppendLine($"| {goal} | {measured} | {(passed switch { true => "pass", false => "**FAIL**", null => "n/a" })} |");
        }
        md.AppendLine();
        var problems = Phases.Where(p => p.FirstProblem is not null).Select(p => $"{p.Target} {p.Load}: first failure: {p.FirstProblem}").ToList();
        var lag = Phases.Where(p => p.IsFixedRate).Select(p => p.MaxSendLagMs).DefaultIfEmpty(0).Max();
        md.AppendLine("Notes:").AppendLine();
        md.AppendLine($"- Generator punctuality: the latest any request left after its due time was {F(lag)} ms (that lateness is inside the latencies above).");
        foreach (var line in problems.Concat(Notes))
        {
            md.AppendLine($"- {line}");
        }
        return md.ToString();
    }

    public double PayloadKb { get; init; }

    /// <summary>Replaces the section under <see cref="Heading"/> (up to the next level-2 heading) or appends it.</summary>
    public static string ReplaceSection(string document, string section)
    {
        var lines = document.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').ToList();
        var start = lines.FindIndex(l => l.TrimEnd() == Heading);
        if (start < 0)
        {
            var head = document.Length == 0 ? "# Benchmarks\n\n" : document.TrimEnd('\n') + "\n\n";
            return head + section.TrimEnd('\n') + "\n";
        }
        var end = lines.FindIndex(start + 1, l => l.StartsWith("## ", StringComparison.Ordinal));
        var before = string.Join('\n', lines.Take(start));
        var after = end < 0 ? "" : "\n" + string.Join('\n', lines.Skip(end));
        return (before.Length > 0 ? before.TrimEnd('\n') + "\n\n" : "") + section.TrimEnd('\n') + "\n" + after;
    }
}
