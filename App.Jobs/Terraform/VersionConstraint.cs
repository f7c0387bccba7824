using System.Globalization;

namespace Ensemble.Jobs.Terraform;

/// <summary>A terraform/OpenTofu release number: <c>1.9.8</c>, <c>1.10.0-beta1</c>. A leading <c>v</c> is accepted.</summary>
public sealed record ToolVersion(int Major, int Minor, int Patch, string? Prerelease) : IComparable<ToolVersion>
{
    public static ToolVersion? TryParse(string text)
    {
        text = text.Trim();
        if (text.StartsWith('v'))
        {
            text = text[1..];
        }

        var dash = text.IndexOf('-', StringComparison.Ordinal);
        var pre = dash >= 0 ? text[(dash + 1)..] : null;
        var parts = (dash >= 0 ? text[..dash] : text).Split('.');
        if (parts.Length != 3 || pre is { Length: 0 })
        {
            return null;
        }

        var numbers = new int[3];
        for (var i = 0; i < 3; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out numbers[i]))
            {
                return null;
            }
        }

        return new ToolVersion(numbers[0], numbers[1], numbers[2], pre);
    }

    public int CompareTo(ToolVersion? other)
    {
        if (other is null)
        {
            return 1;
        }

        var c = (Major, Minor, Patch).CompareTo((other.Major, other.Minor, other.Patch));
        if (c != 0)
        {
            return c;
        }

        // A prerelease sorts before its release.
        return (Prerelease, other.Prerelease) switch
        {
            (null, null) => 0,
            (null, _) => 1,
            (_, null) => -1,
            _ => string.CompareOrdinal(Prerelease, other.Prerelease),
        };
    }

    public override string ToString() => Prerelease is null ? $"{Major}.{Minor}.{Patch}" : $"{Major}.{Minor}.{Patch}-{Prerelease}";
}

/// <summary>
/// Terraform's version constraint syntax (<c>required_version</c>): comma-joined <c>=</c>, <c>!=</c>, <c>&gt;</c>,
/// <c>&gt;=</c>, <c>&lt;</c>, <c>&lt;=</c>, <c>~&gt;</c>; a bare version means <c>=</c>. Pure.
/// </summary>
public sealed class VersionConstraint
{
    private readonly IReadOnlyList<(string Op, int[] Parts, ToolVersion Version)> _terms;

    private VersionConstraint(string text, IReadOnlyList<(string, int[], ToolVersion)> terms)
    {
        Text = text;
        _terms = terms;
    }

    public string Text { get; }

    private static readonly string[] Operators = ["~>", ">=", "<=", "!=", ">", "<", "="];

    /// <summary>Parses a constraint; null with <paramref name="error"/> set when it is not one.</summary>
    public static VersionConstraint? TryParse(string text, out string? error)
    {
        var terms = new List<(string, int[], ToolVersion)>();
        foreach (var raw in text.Split(',', StringSplitOptions.TrimEntries))
        {
            var op = Operators.FirstOrDefault(o => raw.StartsWith(o, StringComparison.Ordinal)) ?? "=";
            var rest = raw.StartsWith(op, StringComparison.Ordinal) ? raw[op.Length..].Trim() : raw;
            var dash = rest.IndexOf('-', StringComparison.Ordinal);
            var pre = dash >= 0 ? rest[(dash + 1)..] : null;
            var core = dash >= 0 ? rest[..dash] : rest;
            var pieces = core.TrimStart('v').Split('.');
            var parts = new int[pieces.Length];
            var ok = pieces.Length is >= 1 and <= 3 && rest.Length > 0;
            for (var i = 0; ok && i < pieces.Length; i++)
            {
                ok = int.TryParse(pieces[i], NumberStyles.None, CultureInfo.InvariantCulture, out parts[i]);
            }

            if (!ok)
            {
                error = $"\"{text}\" is not a version constraint (expected e.g. \">= 1.5, < 2.0\" or \"~> 1.9.0\"): cannot read \"{raw}\".";
                return null;
            }

            var padded = new int[3];
            parts.CopyTo(padded, 0);
            terms.Add((op, parts, new ToolVersion(padded[0], padded[1], padded[2], pre)));
        }

        error = null;
        return new VersionConstraint(text.Trim(), terms);
    }

    public static VersionConstraint Parse(string text) =>
        TryParse(text, out var error) ?? throw new FormatException(error);

    public bool Allows(ToolVersion version)
    {
        // Like terraform: a prerelease matches only a constraint that names that exact prerelease.
        if (version.Prerelease is not null && !_terms.Any(t => t.Op == "=" && t.Version == version))
        {
            return false;
        }

        foreach (var (op, parts, bound) in _terms)
        {
            var cmp = version.CompareTo(bound);
            var ok = op switch
            {
                ">=" => cmp >= 0,
                "<=" => cmp <= 0,
                ">" => cmp > 0,
                "<" => cmp < 0,
                "!=" => cmp != 0,
                "~>" => cmp >= 0 && version.CompareTo(PessimisticUpper(parts)) < 0,
                _ => cmp == 0,
            };
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    // "~> 1.9" allows 1.9 up to (not including) 2.0; "~> 1.9.2" allows 1.9.2 up to 1.10.0; "~> 1" allows 1.x and up.
    private static ToolVersion PessimisticUpper(int[] parts) => parts.Length switch
    {
        1 => new ToolVersion(int.MaxValue, 0, 0, null),
        2 => new ToolVersion(parts[0] + 1, 0, 0, null),
        _ => new ToolVersion(parts[0], parts[1] + 1, 0, null),
    };

    public override string ToString() => Text;
}
