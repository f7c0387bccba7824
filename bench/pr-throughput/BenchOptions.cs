using System.Globalization;

namespace Ensemble.Bench.PrThroughput;

public sealed record BenchOptions
{
    public const string Usage = """
        pr-throughput [--only throughput|pickup] [--projects 200] [--runs 3] [--runner sandbox|process] [--workers N]
                      [--pickup-jobs 200] [--pickup-default-jobs 40] [--pickup-interval-ms 200] [--trace perf.data]
                      [--terraform PATH] [--log-level Information]
        --terraform is the stand-in the App runs as Terraform:Binary (default: the tests' JIT-compiled terraform-sim);
        run.sh passes the NativeAOT publish of it — the zero-cost stand-in — when a C toolchain can build one.
        --log-level is the App's Logging:LogLevel:Default (default Information, what appsettings.json ships).
        Needs ENSEMBLE_BENCH_POSTGRES (superuser connection string; databases pr_* are dropped and created) and
        ENSEMBLE_BENCH_S3_URL (an S3 server taking keys S3RVER/S3RVER); bench/pr-throughput/run.sh starts both.
        """;

    public required string Postgres { get; init; }
    public required string S3Url { get; init; }
    public string? Only { get; init; }
    public int Projects { get; init; } = 200;
    public int Runs { get; init; } = 3;
    public string Runner { get; init; } = "sandbox";
    public int? Workers { get; init; }
    public int PickupJobs { get; init; } = 200;
    public int PickupDefaultJobs { get; init; } = 40;
    public int PickupIntervalMs { get; init; } = 200;
    public string? Command { get; init; }

    /// <summary>The App's default log level; what ships (appsettings.json) unless a run asks for another.</summary>
    public string LogLevel { get; init; } = "Information";

    /// <summary>The stand-in terraform executable; <c>null</c> for the tests' build of terraform-sim.</summary>
    public string? Terraform { get; init; }

    /// <summary>With <c>--trace FILE</c>, perf samples the App's CPU during the last measured run (after the JIT has settled when --runs is 2 or more).</summary>
    public string? TracePath { get; init; }

    public static BenchOptions Parse(string[] args)
    {
        string Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new ArgumentException($"{name} is not set.\n{Usage}");

        var options = new BenchOptions { Postgres = Env("ENSEMBLE_BENCH_POSTGRES"), S3Url = Env("ENSEMBLE_BENCH_S3_URL") };
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.\n{Usage}");
            int Number() => int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
                ? n
                : throw new ArgumentException($"{args[i - 1]} needs a positive whole number.\n{Usage}");
            options = args[i] switch
            {
                "--only" => options with { Only = CheckOnly(Value()) },
                "--projects" => options with { Projects = Number() },
                "--runs" => options with { Runs = Number() },
                "--runner" => options with { Runner = Value() },
                "--workers" => options with { Workers = Number() },
                "--pickup-jobs" => options with { PickupJobs = Number() },
                "--pickup-default-jobs" => options with { PickupDefaultJobs = Number() },
                "--pickup-interval-ms" => options with { PickupIntervalMs = Number() },
                "--command" => options with { Command = Value() },
                "--trace" => options with { TracePath = Path.GetFullPath(Value()) },
                "--terraform" => options with { Terraform = Path.GetFullPath(Value()) },
                "--log-level" => options with { LogLevel = CheckLogLevel(Value()) },
                _ => throw new ArgumentException($"unknown argument {args[i]}.\n{Usage}"),
            };
        }

        return options;
    }

    private static string CheckLogLevel(string value) =>
        Enum.TryParse<Microsoft.Extensions.Logging.LogLevel>(value, ignoreCase: false, out var level) && Enum.IsDefined(level)
            ? level.ToString()
            : throw new ArgumentException($"--log-level takes one of {string.Join(", ", Enum.GetNames<Microsoft.Extensions.Logging.LogLevel>())}.\n{Usage}");

    private static string CheckOnly(string value) =>
        value is "throughput" or "pickup" ? value : throw new ArgumentException($"--only takes throughput or pickup.\n{Usage}");
}
