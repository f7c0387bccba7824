using System.Globalization;
using Npgsql;

namespace Ensemble.Bench;

/// <summary>What a benchmark report says about the machine it ran on, read from <c>/proc</c>.</summary>
public static class BenchMachine
{
    /// <summary>The 1-, 5- and 15-minute load averages; "unknown" off Linux.</summary>
    /// <summary>
    /// CPU seconds the whole machine spent busy so far (/proc/stat: every process, exited or orphaned, and the kernel;
    /// not idle or iowait). The difference over an interval on a quiet machine is the honest total a workload cost,
    /// including processes no parent accounts for (a child reparented to PID 1 because its parent exited first).
    /// </summary>
    public static double BusyCpuSeconds()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..]
            .Select(f => long.Parse(f, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        return (fields.Sum() - fields[3] - fields[4]) / 100.0; // USER_HZ; idle and iowait are fields 4 and 5
    }

    public static IReadOnlyList<string> LoadAverages() =>
        File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[..3] : ["unknown", "unknown", "unknown"];

    /// <summary>The CPU's model name.</summary>
    public static string CpuModel() =>
        File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU"
            : "unknown CPU";

    /// <summary>Total memory in MiB; 0 when unknown.</summary>
    public static long MemoryMiB() =>
        (File.Exists("/proc/meminfo")
            ? File.ReadLines("/proc/meminfo").Where(l => l.StartsWith("MemTotal:", StringComparison.Ordinal))
                .Select(l => long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture)).FirstOrDefault()
            : 0) / 1024;
}

/// <summary>Throwaway databases on the benchmark's PostgreSQL.</summary>
public static class Databases
{
    /// <summary>Drops and creates <paramref name="database"/>; returns its connection string.</summary>
    public static async Task<string> CreateAsync(string adminConnectionString, string database)
    {
        await using (var admin = NpgsqlDataSource.Create(adminConnectionString))
        {
            await using var drop = admin.CreateCommand($"DROP DATABASE IF EXISTS {database} WITH (FORCE)");
            await drop.ExecuteNonQueryAsync();
            await using var create = admin.CreateCommand($"CREATE DATABASE {database}");
            await create.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(adminConnectionString) { Database = database }.ConnectionString;
    }
}
