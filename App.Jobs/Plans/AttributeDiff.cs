using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Ensemble.Jobs.Plans;

/// <summary>Attribute paths in Terraform's notation: <c>tags["Name"]</c>, <c>ingress[0].cidr_blocks</c>.</summary>
public static class AttributePath
{
    /// <summary>Formats one replace path (a JSON array of attribute names, map keys and list indices).</summary>
    public static string Format(JsonElement steps)
    {
        if (steps.ValueKind != JsonValueKind.Array)
        {
            return steps.ToString();
        }

        var path = "";
        foreach (var step in steps.EnumerateArray())
        {
            path = step.ValueKind == JsonValueKind.Number ? Index(path, step.GetRawText()) : Key(path, step.ToString());
        }

        return path;
    }

    internal static string Key(string parent, string key) =>
        IsIdentifier(key)
            ? parent.Length == 0 ? key : parent + "." + key
            : parent + "[" + JsonSerializer.Serialize(key, AttributeDiff.DisplayJson) + "]";

    internal static string Index(string parent, string index) => parent + "[" + index + "]";

    private static bool IsIdentifier(string key) =>
        key.Length > 0 && (char.IsAsciiLetter(key[0]) || key[0] == '_') &&
        key.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-');
}

/// <summary>
/// Turns before/after values with their sensitive and unknown marker trees into diff lines. A value under a
/// sensitive marker is never read for display: only "(sensitive)" is written.
/// </summary>
internal static class AttributeDiff
{
    public const string Sensitive = "(sensitive)";
    public const string Unknown = "(known after apply)";

    // Bounds so one enormous attribute cannot crowd out every other resource.
    private const int MaxInlineValue = 1_000;
    private const int MaxTextLines = 400;
    private const int MaxLcsCells = 2_000_000;

    internal static readonly JsonSerializerOptions DisplayJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonSerializerOptions IndentedJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, WriteIndented = true };

    internal readonly record struct Leaf(string Path, JsonElement Value, bool IsSensitive, bool IsUnknown)
    {
        public bool IsNull => !IsSensitive && !IsUnknown && Value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined;

        /// <summary>Equal for diffing: same raw value and same markers (a sensitive value that changed still shows as changed).</summary>
        public bool SameAs(Leaf other) =>
            IsSensitive == other.IsSensitive && IsUnknown == other.IsUnknown &&
            (IsUnknown || Raw(Value) == Raw(other.Value));

        private static string? Raw(JsonElement value) => value.ValueKind == JsonValueKind.Undefined ? null : value.GetRawText();
    }

    /// <summary>Leaves of a value: scalars, empty collections, and whole subtrees under a sensitive or unknown marker.</summary>
    public static List<Leaf> Flatten(JsonElement value, JsonElement sensitive, JsonElement unknown)
    {
        var leaves = new List<Leaf>();
        Walk(value, sensitive, unknown, "", leaves);
        return leaves;
    }

    private static void Walk(JsonElement value, JsonElement sensitive, JsonElement unknown, string path, List<Leaf> leaves)
    {
        if (sensitive.ValueKind == JsonValueKind.True)
        {
            // The value is kept only to tell whether it changed; Display never reads it.
            leaves.Add(new Leaf(path, value, IsSensitive: true, IsUnknown: false));
            return;
        }

        if (unknown.ValueKind == JsonValueKind.True)
        {
            leaves.Add(new Leaf(path, default, IsSensitive: false, IsUnknown: true));
            return;
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.Object when value.EnumerateObject().Any():
                foreach (var property in value.EnumerateObject())
                {
                    Walk(property.Value, Child(sensitive, property.Name), Child(unknown, property.Name), AttributePath.Key(path, property.Name), leaves);
                }

                // Unknown markers can name attributes the value does not have yet (e.g. "id" on create).
                if (unknown.ValueKind == JsonValueKind.Object)
                {
                    foreach (var marker in unknown.EnumerateObject().Where(m => !value.TryGetProperty(m.Name, out _)))
                    {
                        Walk(default, Child(sensitive, marker.Name), marker.Value, AttributePath.Key(path, marker.Name), leaves);
                    }
                }

                break;
            case JsonValueKind.Array when value.GetArrayLength() > 0:
                var i = 0;
                foreach (var item in value.EnumerateArray())
                {
                    Walk(item, Child(sensitive, i), Child(unknown, i), AttributePath.Index(path, i.ToString(CultureInfo.InvariantCulture)), leaves);
                    i++;
                }

                break;
            case JsonValueKind.Undefined or JsonValueKind.Null when unknown.ValueKind == JsonValueKind.Object:
                foreach (var marker in unknown.EnumerateObject())
                {
                    Walk(default, Child(sensitive, marker.Name), marker.Value, AttributePath.Key(path, marker.Name), leaves);
                }

                break;
            case JsonValueKind.Undefined:
                break;
            default:
                if (path.Length > 0 || value.ValueKind != JsonValueKind.Null)
                {
                    leaves.Add(new Leaf(path, value, IsSensitive: false, IsUnknown: false));
                }

                break;
        }
    }

    private static JsonElement Child(JsonElement marker, string name) =>
        marker.ValueKind == JsonValueKind.Object && marker.TryGetProperty(name, out var child) ? child : default;

    private static JsonElement Child(JsonElement marker, int index) =>
        marker.ValueKind == JsonValueKind.Array && index < marker.GetArrayLength() ? marker[index] : default;

    /// <summary>One-line display of a leaf, never the value when sensitive.</summary>
    public static string Display(Leaf leaf, int max = MaxInlineValue)
    {
        if (leaf.IsSensitive)
        {
            return Sensitive;
        }

        if (leaf.IsUnknown)
        {
            return Unknown;
        }

        return Display(leaf.Value, max);
    }

    public static string Display(JsonElement value, int max = MaxInlineValue)
    {
        var text = value.ValueKind switch
        {
            JsonValueKind.Undefined => "null",
            JsonValueKind.String => JsonSerializer.Serialize(value.GetString(), DisplayJson),
            JsonValueKind.Object or JsonValueKind.Array => JsonSerializer.Serialize(value, DisplayJson),
            _ => value.GetRawText(),
        };
        return text.Length > max
            ? string.Concat(text.AsSpan(0, max), $"… ({text.Length.ToString("N0", CultureInfo.InvariantCulture)} characters)")
            : text;
    }

    /// <summary>
    /// A string worth showing as lines: multi-line (heredoc) text, or JSON inside a string (policies), pretty-printed.
    /// Returns null for ordinary short strings.
    /// </summary>
    public static IReadOnlyList<string>? AsLines(Leaf leaf)
    {
        if (leaf.IsSensitive || leaf.IsUnknown || leaf.Value.ValueKind != JsonValueKind.String)
        {
            return null;
        }

        var text = leaf.Value.GetString()!;
        var trimmed = text.TrimStart();
        if (trimmed.Length > 1 && trimmed[0] is '{' or '[')
        {
            try
            {
                using var json = JsonDocument.Parse(text);
                if (json.RootElement.ValueKind is JsonValueKind.Object or JsonValueKind.Array)
                {
                    return JsonSerializer.Serialize(json.RootElement, IndentedJson).Split('\n');
                }
            }
            catch (JsonException)
            {
                // Not JSON after all: fall through to plain text.
            }
        }

        if (!text.Contains('\n', StringComparison.Ordinal))
        {
            return null;
        }

        return text.TrimEnd('\n').Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
    }

    /// <summary>Writes the lines of a text value, each prefixed by <paramref name="marker"/>, bounded in count.</summary>
    public static void AppendLines(StringBuilder sb, char marker, IReadOnlyList<string> lines)
    {
        var shown = Math.Min(lines.Count, MaxTextLines);
        for (var i = 0; i < shown; i++)
        {
            sb.Append(marker).Append("     ").Append(Cap(lines[i])).Append('\n');
        }

        if (lines.Count > shown)
        {
            sb.Append(marker).Append("     … ").Append(Count(lines.Count - shown)).Append(" more lines\n");
        }
    }

    /// <summary>Line diff of two texts (LCS after trimming the common head and tail), in unified-diff markers.</summary>
    public static void AppendLineDiff(StringBuilder sb, IReadOnlyList<string> before, IReadOnlyList<string> after)
    {
        var head = 0;
        while (head < before.Count && head < after.Count && before[head] == after[head])
        {
            head++;
        }

        var tail = 0;
        while (tail < before.Count - head && tail < after.Count - head && before[^(tail + 1)] == after[^(tail + 1)])
        {
            tail++;
        }

        var ops = new List<(char Op, string Line)>();
        ops.AddRange(before.Take(head).Select(l => (' ', l)));
        var b = before.Skip(head).Take(before.Count - head - tail).ToArray();
        var a = after.Skip(head).Take(after.Count - head - tail).ToArray();
        if ((long)b.Length * a.Length > MaxLcsCells)
        {
            ops.AddRange(b.Select(l => ('-', l)));
            ops.AddRange(a.Select(l => ('+', l)));
        }
        else
        {
            ops.AddRange(Lcs(b, a));
        }

        ops.AddRange(before.Skip(before.Count - tail).Select(l => (' ', l)));

        // Keep three lines of context around changes, like diff -U3.
        var keep = new bool[ops.Count];
        for (var i = 0; i < ops.Count; i++)
        {
            if (ops[i].Op != ' ')
            {
                for (var j = Math.Max(0, i - 3); j <= Math.Min(ops.Count - 1, i + 3); j++)
                {
                    keep[j] = true;
                }
            }
        }

        var written = 0;
        var skipped = false;
        for (var i = 0; i < ops.Count; i++)
        {
            if (!keep[i])
            {
                skipped = true;
                continue;
            }

            if (skipped)
            {
                sb.Append("      …\n");
                skipped = false;
            }

            if (++written > MaxTextLines)
            {
                sb.Append("      … ").Append(Count(ops.Count - i)).Append(" more lines\n");
                return;
            }

            sb.Append(ops[i].Op).Append("     ").Append(Cap(ops[i].Line)).Append('\n');
        }

        if (skipped)
        {
            sb.Append("      …\n");
        }
    }

    private static IEnumerable<(char, string)> Lcs(string[] b, string[] a)
    {
        var lengths = new int[b.Length + 1, a.Length + 1];
        for (var i = b.Length - 1; i >= 0; i--)
        {
            for (var j = a.Length - 1; j >= 0; j--)
            {
                lengths[i, j] = b[i] == a[j] ? lengths[i + 1, j + 1] + 1 : Math.Max(lengths[i + 1, j], lengths[i, j + 1]);
            }
        }

        int x = 0, y = 0;
        while (x < b.Length && y < a.Length)
        {
            if (b[x] == a[y])
            {
                yield return (' ', b[x]);
                x++;
                y++;
            }
            else if (lengths[x + 1, y] >= lengths[x, y + 1])
            {
                yield return ('-', b[x++]);
            }
            else
            {
                yield return ('+', a[y++]);
            }
        }

        while (x < b.Length)
        {
            yield return ('-', b[x++]);
        }

        while (y < a.Length)
        {
            yield return ('+', a[y++]);
        }
    }

    private static string Cap(string line) =>
        line.Length > MaxInlineValue ? string.Concat(line.AsSpan(0, MaxInlineValue), "…") : line;

    internal static string Count(int n) => n.ToString("N0", CultureInfo.InvariantCulture);
}
