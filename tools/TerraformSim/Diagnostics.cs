namespace Ensemble.TerraformSim;

/// <summary>Where a diagnostic points: a file relative to the working dir, a line, and the enclosing block.</summary>
public sealed record SourceRange(string File, int Line, string? Context, string? SourceLine);

/// <summary>A terraform-style error: summary, optional source subject, detail.</summary>
public sealed record Diagnostic(string Summary, string Detail, SourceRange? Subject = null)
{
    /// <summary>Renders like terraform: plain with -no-color, boxed otherwise (never coloured).</summary>
    public string Render(bool noColor)
    {
        var lines = new List<string> { $"Error: {Summary}", "" };
        if (Subject is not null)
        {
            var context = Subject.Context is null ? "" : $", in {Subject.Context}";
            lines.Add($"  on {Subject.File} line {Subject.Line}{context}:");
            if (Subject.SourceLine is not null)
            {
                lines.Add($"{Subject.Line,4}: {Subject.SourceLine}");
            }

            lines.Add("");
        }

        lines.AddRange(Detail.Split('\n'));
        if (noColor)
        {
            return "\n" + string.Join('\n', lines) + "\n";
        }

        var boxed = lines.Select(l => l.Length == 0 ? "│ " : "│ " + l);
        return "╷\n" + string.Join('\n', boxed) + "\n╵\n";
    }
}

/// <summary>Carries a diagnostic up to the command boundary, which prints it and exits 1.</summary>
public sealed class DiagnosticException(Diagnostic diagnostic) : Exception(diagnostic.Summary)
{
    public Diagnostic Diagnostic { get; } = diagnostic;
}
