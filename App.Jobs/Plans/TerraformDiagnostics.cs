using System.Text.Json;
using System.Text.RegularExpressions;
using Ensemble.Jobs.Core;

namespace Ensemble.Jobs.Plans;

/// <summary>
/// One diagnostic Terraform printed. <see cref="File"/> is as Terraform wrote it, relative to the project directory
/// (e.g. <c>main.tf</c>, <c>../modules/net/main.tf</c>); null (and lines 0) when the diagnostic names no source.
/// </summary>
public sealed record TerraformDiagnostic(string Severity, string Summary, string? Detail, string? File, int StartLine, int EndLine);

/// <summary>
/// Reads diagnostics out of Terraform's output: the human form (<c>-no-color</c>, plain or boxed in ╷ │ ╵), machine-readable
/// UI lines (<c>-json</c>, <c>"type":"diagnostic"</c>) and a JSON document with a <c>diagnostics</c> array (validate -json).
/// Pure; turns them into check-run annotations on repo-relative paths.
/// </summary>
public static partial class TerraformDiagnostics
{
    private const int MaxTitle = 255;
    private const int MaxMessage = 4_000;

    public static IReadOnlyList<TerraformDiagnostic> Parse(string log)
    {
        ArgumentNullException.ThrowIfNull(log);
        var text = AnsiEscape().Replace(log.Replace("\r\n", "\n", StringComparison.Ordinal), "");
        var trimmed = text.TrimStart();
        if (trimmed.StartsWith('{') && TryParseDocument(trimmed) is { } fromDocument)
        {
            return fromDocument;
        }

        var found = new List<TerraformDiagnostic>();
        var human = new List<string>();
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith('{') && TryParseUiLine(line) is { } fromLine)
            {
                found.Add(fromLine);
                continue;
            }

            human.Add(line);
        }

        found.AddRange(ParseHuman(human));
        return found;
    }

    /// <summary>
    /// Annotations for the diagnostics that point into the repository: paths are joined to <paramref name="projectPath"/>
    /// and normalised (<c>../modules/x</c> works); paths outside the repository, absolute ones and downloaded modules under
    /// <c>.terraform/</c> are dropped, as GitHub could not place them. Errors come first, so they survive the 50-per-request cap.
    /// </summary>
    public static IReadOnlyList<CheckRunAnnotation> ToAnnotations(IEnumerable<TerraformDiagnostic> diagnostics, string projectPath)
    {
        ArgumentNullException.ThrowIfNull(diagnostics);
        ArgumentNullException.ThrowIfNull(projectPath);
        var result = new List<CheckRunAnnotation>();
        foreach (var d in diagnostics)
        {
            if (d.File is null || d.StartLine < 1 || RepoPath(projectPath, d.File) is not { } path)
            {
                continue;
            }

            var level = d.Severity.ToLowerInvariant() switch
            {
                "error" => CheckRunAnnotation.Failure,
                "warning" => CheckRunAnnotation.Warning,
                _ => CheckRunAnnotation.Notice,
            };
            var title = Cap(d.Summary, MaxTitle);
            var message = Cap(string.IsNullOrWhiteSpace(d.Detail) ? d.Summary : d.Detail, MaxMessage);
            var annotation = new CheckRunAnnotation(path, d.StartLine, Math.Max(d.StartLine, d.EndLine), level, title, message);
            if (!result.Contains(annotation))
            {
                result.Add(annotation);
            }
        }

        return [.. result.OrderBy(a => a.Level switch { CheckRunAnnotation.Failure => 0, CheckRunAnnotation.Warning => 1, _ => 2 })];
    }

    /// <summary>The repo-relative, '/'-separated path of a file named relative to the project, or null when it leaves the repository.</summary>
    internal static string? RepoPath(string projectPath, string file)
    {
        var normalizedFile = file.Replace('\\', '/');
        if (normalizedFile.StartsWith('/') || (normalizedFile.Length > 1 && normalizedFile[1] == ':'))
        {
            return null;
        }

        var segments = new List<string>();
        foreach (var segment in (projectPath.Replace('\\', '/') + "/" + normalizedFile).Split('/'))
        {
            switch (segment)
            {
                case "" or ".":
                    break;
                case "..":
                    if (segments.Count == 0)
                    {
                        return null;
                    }

                    segments.RemoveAt(segments.Count - 1);
                    break;
                default:
                    segments.Add(segment);
                    break;
            }
        }

        // Modules downloaded by init live in .terraform/: not part of the pull request's diff.
        return segments.Count == 0 || segments.Contains(".terraform") ? null : string.Join('/', segments);
    }

    private static string Cap(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";

    // ---------------------------------------------------------------- JSON

    private static List<TerraformDiagnostic>? TryParseDocument(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("diagnostics", out var list) || list.ValueKind != JsonValueKind.Array)
            {
                return null;
            }

            return [.. list.EnumerateArray().Select(FromJson).OfType<TerraformDiagnostic>()];
        }
        catch (JsonException)
        {
            // Not one JSON document: JSON lines (-json UI output) or human text.
            return null;
        }
    }

    private static TerraformDiagnostic? TryParseUiLine(string line)
    {
        try
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            return root.ValueKind == JsonValueKind.Object
                   && root.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "diagnostic"
                   && root.TryGetProperty("diagnostic", out var diagnostic)
                ? FromJson(diagnostic)
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static TerraformDiagnostic? FromJson(JsonElement d)
    {
        if (d.ValueKind != JsonValueKind.Object || String(d, "summary") is not { } summary)
        {
            return null;
        }

        string? file = null;
        int start = 0, end = 0;
        if (d.TryGetProperty("range", out var range) && range.ValueKind == JsonValueKind.Object)
        {
            file = String(range, "filename");
            start = Line(range, "start");
            end = Line(range, "end");
        }

        return new TerraformDiagnostic(String(d, "severity") ?? "error", summary, String(d, "detail") is { Length: > 0 } detail ? detail : null,
            file, start, Math.Max(start, end));
    }

    private static string? String(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int Line(JsonElement range, string name) =>
        range.TryGetProperty(name, out var pos) && pos.ValueKind == JsonValueKind.Object && pos.TryGetProperty("line", out var line)
        && line.ValueKind == JsonValueKind.Number && line.TryGetInt32(out var n) ? n : 0;

    // ---------------------------------------------------------------- human output

    private static List<TerraformDiagnostic> ParseHuman(List<string> raw)
    {
        // Boxes become plain text: "│ " prefixes go, box corners end a diagnostic.
        var lines = new List<(string Text, bool BoxEnd)>(raw.Count);
        foreach (var line in raw)
        {
            if (line.StartsWith('╷') || line.StartsWith('╵'))
            {
                lines.Add(("", true));
            }
            else if (line.StartsWith('│'))
            {
                lines.Add((line.StartsWith("│ ", StringComparison.Ordinal) ? line[2..] : line[1..], false));
            }
            else
            {
                lines.Add((line, false));
            }
        }

        var found = new List<TerraformDiagnostic>();
        for (var i = 0; i < lines.Count; i++)
        {
            var head = Header().Match(lines[i].Text);
            if (!head.Success)
            {
                continue;
            }

            var severity = head.Groups[1].Value.ToLowerInvariant();
            var summary = head.Groups[2].Value.Trim();
            var j = i + 1;
            while (j < lines.Count && !lines[j].BoxEnd && lines[j].Text.Length == 0)
            {
                j++;
            }

            string? file = null;
            var line = 0;
            if (j < lines.Count && !lines[j].BoxEnd && Subject().Match(lines[j].Text) is { Success: true } subject)
            {
                file = subject.Groups[1].Value;
                line = int.Parse(subject.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
                j++;
                // The source snippet and its value hints ("   7: foo = 1", "     ├────", "     │ var.x is 1") are not detail.
                while (j < lines.Count && !lines[j].BoxEnd && lines[j].Text.Length > 0 && lines[j].Text.StartsWith(' '))
                {
                    j++;
                }
            }

            var detail = new List<string>();
            for (; j < lines.Count && !lines[j].BoxEnd && !Header().IsMatch(lines[j].Text); j++)
            {
                // Outside a box, two blank lines in a row end the diagnostic: what follows is other output.
                if (lines[j].Text.Length == 0 && detail.Count > 0 && detail[^1].Length == 0)
                {
                    break;
                }

                detail.Add(lines[j].Text);
            }

            var detailText = string.Join('\n', detail).Trim();
            found.Add(new TerraformDiagnostic(severity, summary, detailText.Length == 0 ? null : detailText, file, line, line));
            i = j - 1;
        }

        return found;
    }

    [GeneratedRegex(@"^(Error|Warning): (.+)$")]
    private static partial Regex Header();

    // "  on main.tf line 7, in resource "x" "y":", "  on ../modules/a/main.tf line 3:"
    [GeneratedRegex(@"^\s*on (.+?) line (\d+)(?:, in .*)?:$")]
    private static partial Regex Subject();

    [GeneratedRegex(@"\x1B\[[0-9;?]*[ -/]*[@-~]")]
    private static partial Regex AnsiEscape();
}
