using System.Globalization;

namespace Ensemble.Bench.WebhookLoad;

/// <summary>What to measure and for how long; defaults keep a whole run under three minutes.</summary>
public sealed record BenchOptions
{
    public const string Usage =
        """
        usage: webhook-load --app-dll PATH --postgres CONNSTRING [--rate 200] [--duration 30] [--warmup 3]
                            [--concurrency 32] [--max-duration 10] [--roles web,all] [--docs docs/benchmarks.md]
                            [--command "bench/webhook-load/run.sh"]
                            [--app-env KEY=VALUE,KEY=VALUE]   (--docs "" writes no file)
        """;

    public required string AppDll { get; init; }
    public required string Postgres { get; init; }
    public int Rate { get; init; } = 200;
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(3);
    public int Concurrency { get; init; } = 32;
    public TimeSpan MaxDuration { get; init; } = TimeSpan.FromSeconds(10);
    public IReadOnlyList<string> Roles { get; init; } = ["web", "all"];
    public string? DocsPath { get; init; }
    public string Command { get; init; } = "bench/webhook-load/run.sh";

    /// <summary>Extra environment for the App process (KEY=VALUE,...), e.g. runtime knobs to test a suspected cost.</summary>
    public IReadOnlyDictionary<string, string> AppEnvironment { get; init; } = new Dictionary<string, string>();

    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Count)
            {
                throw new ArgumentException($"Unexpected argument '{args[i]}': every option takes a value.");
            }
            values[args[i][2..]] = args[++i];
        }

        string Required(string name) => values.Remove(name, out var v) && v.Length > 0
            ? v
            : throw new ArgumentException($"--{name} is required.");
        int Int(string name, int fallback, int min) => !values.Remove(name, out var v)
            ? fallback
            : int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min
                ? n
                : throw new ArgumentException($"--{name} '{v}' must be a whole number ≥ {min}.");

        var options = new BenchOptions
        {
            AppDll = Required("app-dll"),
            Postgres = Required("postgres"),
            Rate = Int("rate", 200, 1),
            Duration = TimeSpan.FromSeconds(Int("duration", 30, 1)),
            Warmup = TimeSpan.FromSeconds(Int("warmup", 3, 0)),
            Concurrency = Int("concurrency", 32, 1),
            MaxDuration = TimeSpan.FromSeconds(Int("max-duration", 10, 1)),
            Roles = values.Remove("roles", out var roles) ? roles.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : ["web", "all"],
            DocsPath = values.Remove("docs", out var docs) && docs.Length > 0 ? docs : null,
            AppEnvironment = values.Remove("app-env", out var env) ? ParseEnvironment(env) : new Dictionary<string, string>(),
            Command = values.Remove("command", out var command) ? command : "bench/webhook-load/run.sh",
        };
        if (values.Count > 0)
        {
            throw new ArgumentException($"Unknown option(s): {string.Join(", ", values.Keys.Select(k => "--" + k))}.");
        }
        if (options.Roles.FirstOrDefault(r => r is not ("web" or "all")) is { } bad)
        {
            throw new ArgumentException($"--roles: '{bad}' is not web or all.");
        }
        return options;
    }

    private static Dictionary<string, string> ParseEnvironment(string text)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new ArgumentException($"--app-env: '{pair}' is not KEY=VALUE.");
            }
            result[pair[..equals]] = pair[(equals + 1)..];
        }
        return result;
    }
}
