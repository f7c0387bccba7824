namespace Ensemble.TerraformSim;

/// <summary>Parsed command line: terraform's Go-flag style (-name=value, -name value, bare bool flags).</summary>
public sealed record CommandLine(string Command, IReadOnlyDictionary<string, string> Flags, IReadOnlyList<string> Variables, IReadOnlyList<string> Positional)
{
    // Flags that take a value and may give it as the next argument.
    private static readonly HashSet<string> ValueFlags = ["out", "var", "var-file", "lock-timeout", "target", "replace", "state", "state-out", "parallelism", "backend-config", "plugin-dir", "from-module", "chdir"];

    private static readonly Dictionary<string, HashSet<string>> Known = new()
    {
        ["init"] = ["input", "no-color", "lock", "lock-timeout", "upgrade", "reconfigure", "migrate-state", "force-copy", "backend", "backend-config", "get", "plugin-dir", "lockfile", "json"],
        ["plan"] = ["input", "no-color", "out", "destroy", "detailed-exitcode", "lock", "lock-timeout", "refresh", "refresh-only", "var", "var-file", "target", "replace", "parallelism", "compact-warnings", "json"],
        ["apply"] = ["input", "no-color", "auto-approve", "lock", "lock-timeout", "refresh", "var", "var-file", "target", "replace", "parallelism", "compact-warnings", "destroy", "json", "state", "state-out", "backup"],
        ["show"] = ["json", "no-color"],
        ["version"] = ["json"],
    };

    public bool NoColor => Flag("no-color");

    public bool Flag(string name) => Flags.TryGetValue(name, out var v) && v is "" or "true" or "1" or "t" or "T" or "TRUE" or "True";

    public bool FlagOr(string name, bool fallback) => Flags.ContainsKey(name) ? Flag(name) : fallback;

    public string? Value(string name) => Flags.TryGetValue(name, out var v) ? v : null;

    /// <summary>Returns the parsed command, or an error message for terraform's usage-error exit.</summary>
    public static (CommandLine? Line, string? Error) Parse(string command, IReadOnlyList<string> args)
    {
        var known = Known.GetValueOrDefault(command, []);
        var flags = new Dictionary<string, string>(StringComparer.Ordinal);
        var variables = new List<string>();
        var positional = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg == "--")
            {
                positional.AddRange(args.Skip(i + 1));
                break;
            }

            if (!arg.StartsWith('-') || arg == "-")
            {
                positional.Add(arg);
                continue;
            }

            var body = arg.TrimStart('-');
            var eq = body.IndexOf('=', StringComparison.Ordinal);
            var name = eq < 0 ? body : body[..eq];
            string value;
            if (eq >= 0)
            {
                value = body[(eq + 1)..];
            }
            else if (ValueFlags.Contains(name))
            {
                if (i + 1 >= args.Count)
                {
                    return (null, $"flag needs an argument: -{name}");
                }

                value = args[++i];
            }
            else
            {
                value = "";
            }

            if (!known.Contains(name))
            {
                return (null, $"flag provided but not defined: -{name}");
            }

            if (name == "var")
            {
                variables.Add(value);
            }
            else
            {
                flags[name] = value;
            }
        }

        return (new CommandLine(command, flags, variables, positional), null);
    }

    /// <summary>Go duration subset used by -lock-timeout: "0s", "30s", "5m", "1h", "1m30s", "500ms".</summary>
    public static TimeSpan ParseDuration(string text)
    {
        var total = TimeSpan.Zero;
        var number = "";
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsAsciiDigit(c) || c == '.')
            {
                number += c;
                continue;
            }

            var unit = c == 'm' && i + 1 < text.Length && text[i + 1] == 's' ? "ms" : c.ToString();
            i += unit.Length - 1;
            var n = double.Parse(number.Length == 0 ? "0" : number, System.Globalization.CultureInfo.InvariantCulture);
            total += unit switch
            {
                "ms" => TimeSpan.FromMilliseconds(n),
                "s" => TimeSpan.FromSeconds(n),
                "m" => TimeSpan.FromMinutes(n),
                "h" => TimeSpan.FromHours(n),
                _ => throw new FormatException($"invalid duration \"{text}\""),
            };
            number = "";
        }

        return number.Length > 0 && number != "0" ? throw new FormatException($"missing unit in duration \"{text}\"") : total;
    }
}
