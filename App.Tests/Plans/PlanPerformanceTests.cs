using System.Diagnostics;
using System.Text.Json;
using Ensemble.Jobs.Plans;
using Xunit.Abstractions;

namespace Ensemble.Tests.Plans;

public class PlanPerformanceTests(ITestOutputHelper output)
{
    [Fact]
    public void ParseAndRender_TenThousandResources_CloseToBareJsonParse()
    {
        var bytes = PlanFixtures.TenThousand(mixed: true);
        var context = new PlanRenderContext("big");

        // Warm up both paths so JIT time is not measured.
        using (JsonDocument.Parse(bytes)) { }
        PlanRenderer.Render(PlanDocument.Parse(bytes).Plan!, context);

        var bare = Best(() => { using var d = JsonDocument.Parse(bytes); });
        var ours = Best(() => PlanRenderer.Render(PlanDocument.Parse(bytes).Plan!, context));
        output.WriteLine($"{bytes.Length:N0} bytes: JsonDocument.Parse {bare.TotalMilliseconds:F1} ms, parse+render {ours.TotalMilliseconds:F1} ms");

        // The target is 2×; the bound here leaves room for a noisy shared test machine.
        Assert.True(ours < bare * 4, $"parse+render {ours.TotalMilliseconds:F1} ms vs JsonDocument.Parse {bare.TotalMilliseconds:F1} ms");
    }

    private static TimeSpan Best(Action action)
    {
        var best = TimeSpan.MaxValue;
        for (var i = 0; i < 3; i++)
        {
            var watch = Stopwatch.StartNew();
            action();
            best = TimeSpan.FromTicks(Math.Min(best.Ticks, watch.Elapsed.Ticks));
        }

        return best;
    }
}
