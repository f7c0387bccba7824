using System.Diagnostics;
using Ensemble.Tests.EndToEnd;

namespace Ensemble.Bench.PrThroughput;

/// <summary>
/// Records what a stand-in answers for one of the benchmark's projects (as a measured run changes it), for
/// <c>zero-cost-terraform.c</c> to replay: <c>init.txt</c>, <c>plan.txt</c>, <c>plan.bin</c>, <c>show.json</c>, <c>version.txt</c>.
/// </summary>
public static class StandInRecording
{
    public static async Task<int> RecordAsync(string terraform, string directory)
    {
        var project = Path.Combine(directory, "project");
        Directory.CreateDirectory(project);
        await File.WriteAllTextAsync(Path.Combine(project, "main.tf"), Throughput.MeasuredProject(0, run: 1));
        var plan = Path.Combine(directory, "plan.bin");
        foreach (var (file, arguments, ok) in new (string, string[], int[])[]
        {
            ("version.txt", ["version"], [0]),
            ("init.txt", ["init", "-input=false", "-no-color"], [0]),
            ("plan.txt", ["plan", "-input=false", "-no-color", "-detailed-exitcode", $"-out={plan}"], [2]),
            ("show.json", ["show", "-json", "-no-color", plan], [0]),
        })
        {
            var start = new ProcessStartInfo(terraform) { WorkingDirectory = project, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            if (!ok.Contains(process.ExitCode))
            {
                Console.Error.WriteLine($"{terraform} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await error}");
                return 1;
            }
            await File.WriteAllTextAsync(Path.Combine(directory, file), await output);
        }

        Directory.Delete(project, recursive: true);
        return 0;
    }
}
