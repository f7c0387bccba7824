using System.Diagnostics;
using System.Text;

namespace Ensemble.Jobs.Terraform;

/// <summary>
/// The POSIX shell script that runs a <see cref="TerraformSteps"/> sequence in one sandbox, and the reading of its
/// output back into steps. Pure. Each step is announced and its exit code reported by a marker line carrying a
/// per-run random token; arguments are single-quoted, so nothing in them is interpreted by the shell.
/// </summary>
/// <remarks>
/// The markers are bookkeeping, not a trust boundary: terraform runs inside the same sandbox and could print a forged
/// one, but it can only misreport its own steps, which it could do anyway by its exit code. The plan that counts is
/// the plan file, read and verified outside.
/// </remarks>
public static class StepScript
{
    /// <summary>Where the shell is inside the sandbox (the host's system directories are shown read-only).</summary>
    public const string Shell = "/bin/sh";

    public static string NewMarker() => $"ensemble-step-{Guid.NewGuid():N}";

    /// <summary>Whether a sequence is worth a shell (two steps or more) and there is one; else the steps run one by one.</summary>
    public static bool Suits(TerraformSteps steps) => steps.Steps.Count >= 2 && File.Exists(Shell);

    /// <summary>The shell and its arguments that run <paramref name="steps"/> with <paramref name="executable"/>.</summary>
    public static (string Program, IReadOnlyList<string> Arguments) Command(string executable, IReadOnlyList<TerraformStep> steps, string marker) =>
        (Shell, ["-c", Build(executable, steps, marker), "ensemble-steps"]);

    public static string Build(string executable, IReadOnlyList<TerraformStep> steps, string marker)
    {
        var script = new StringBuilder();
        for (var i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            script.Append("printf '%s\\n' ").Append(Quote($"{marker} start {i}")).Append('\n');
            script.Append(Quote(executable));
            foreach (var argument in step.Arguments)
            {
                script.Append(' ').Append(Quote(argument));
            }

            // stderr joins the output stream first, then stdout goes to the file: diagnostics stay visible.
            script.Append(step.StdoutFile is { } file ? $" 2>&1 >{Quote(file)}" : " 2>&1").Append('\n');
            script.Append("rc=$?\n");
            script.Append("printf '%s %d\\n' ").Append(Quote($"{marker} exit {i}")).Append(" \"$rc\"\n");
            script.Append("case \"$rc\" in ").Append(string.Join('|', step.SuccessCodes.Distinct())).Append(") ;; *) exit \"$rc\" ;; esac\n");
        }

        script.Append("exit 0\n");
        return script.ToString();
    }

    /// <summary>
    /// Runs <paramref name="start"/> — a shell running <see cref="Build"/>'s script with <paramref name="marker"/>,
    /// directly or inside a sandbox — and reads its output back into steps. <paramref name="timeout"/> bounds each step.
    /// </summary>
    internal static async Task<IReadOnlyList<TerraformResult>> RunAsync(
        ProcessStartInfo start, IReadOnlyDictionary<string, string> environment, string marker,
        Func<int, ValueTask> onStep, Func<string, ValueTask> onLine, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var reader = new Reader(marker);
        var result = await ChildProcess.RunAsync(start, environment, async line =>
        {
            var e = reader.Read(line);
            if (e.Output is { } output)
            {
                await onLine(output);
            }

            if (e.Started is { } step)
            {
                await onStep(step);
            }
        }, timeout, null, cancellationToken, reader.StartsStep);
        return reader.Results(result);
    }

    /// <summary>A shell word that stands for exactly <paramref name="value"/>.</summary>
    public static string Quote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>What one line of the script's output means.</summary>
    public readonly record struct Event(string? Output, int? Started);

    /// <summary>Reads the script's output: marker lines become step events, everything else is the running step's output.</summary>
    public sealed class Reader(string marker)
    {
        private readonly List<TerraformResult> _results = [];
        private int _started = -1;

        /// <summary>True for a line that starts a step (the step's time limit starts again).</summary>
        public bool StartsStep(string line) => Read(line, record: false).Started is not null;

        public Event Read(string line) => Read(line, record: true);

        private Event Read(string line, bool record)
        {
            var at = line.IndexOf(marker, StringComparison.Ordinal);
            if (at < 0)
            {
                return new Event(line, null);
            }

            // A step whose last line had no newline leaves it in front of the marker.
            var output = at > 0 ? line[..at] : null;
            var words = line[(at + marker.Length)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words is ["start", var s] && int.TryParse(s, out var started))
            {
                if (record)
                {
                    _started = started;
                }

                return new Event(output, started);
            }

            if (words is ["exit", var e, var c] && int.TryParse(e, out _) && int.TryParse(c, out var code))
            {
                if (record)
                {
                    _results.Add(new TerraformResult(code, false));
                }

                return new Event(output, null);
            }

            return new Event(line, null);
        }

        /// <summary>
        /// One result per step that ran: the reported exit codes, and for a step that started but never reported
        /// (timed out, killed, or the sandbox itself failed) the process's own result.
        /// </summary>
        public IReadOnlyList<TerraformResult> Results(TerraformResult process) =>
            _started >= _results.Count || _results.Count == 0 ? [.. _results, process] : [.. _results];
    }
}
