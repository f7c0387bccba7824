using System.Globalization;

namespace Ensemble.TerraformSim;

/// <summary>Checks terraform `required_version` constraints ("&gt;= 1.5, &lt; 2.0", "~&gt; 1.9").</summary>
public static class VersionConstraint
{
    public static bool Allows(string constraints, string version)
    {
        var v = Parse(version);
        foreach (var raw in constraints.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var op = new[] { "~>", ">=", "<=", "!=", ">", "<", "=" }.FirstOrDefault(o => raw.StartsWith(o, StringComparison.Ordinal)) ?? "=";
            var text = raw.StartsWith(op, StringComparison.Ordinal) ? raw[op.Length..].Trim() : raw;
            var c = Parse(text);
            var cmp = Compare(v, c);
            var ok = op switch
            {
                ">=" => cmp >= 0,
                "<=" => cmp <= 0,
                ">" => cmp > 0,
                "<" => cmp < 0,
                "!=" => cmp != 0,
                "~>" => cmp >= 0 && Compare(v, PessimisticUpper(text)) < 0,
                _ => cmp == 0,
            };
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    private static int[] PessimisticUpper(string text)
    {
        var parts = Parse(text);
        var given = text.Split('.').Length;
        // "~> 1.9" allows 1.x from 1.9; "~> 1.9.2" allows 1.9.x from 1.9.2.
        var bump = Math.Max(0, given - 2);
        var upper = new int[3];
        for (var i = 0; i < bump; i++)
        {
            upper[i] = parts[i];
        }

        upper[bump] = parts[bump] + 1;
        return upper;
    }

    private static int[] Parse(string text)
    {
        var parts = text.TrimStart('v').Split('-')[0].Split('.');
        var result = new int[3];
        for (var i = 0; i < Math.Min(3, parts.Length); i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out result[i]))
            {
                throw new FormatException($"Invalid version \"{text}\"");
            }
        }

        return result;
    }

    private static int Compare(int[] a, int[] b)
    {
        for (var i = 0; i < 3; i++)
        {
            if (a[i] != b[i])
            {
                return a[i].CompareTo(b[i]);
            }
        }

        return 0;
    }
}
