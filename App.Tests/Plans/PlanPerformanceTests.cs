using System.Diagnostics;
using System.Text.Json;
using Ensemble.Jobs.Plans;
using Xunit.Abstractions;

namespace Ensemble.Tests.Plans;

/// <summary>Timing needs the machine to itself: this collection never runs beside other tests.</summary>
[CollectionDefinition(nameof(PlanPerformanceTests), DisableParallelization = true)]
public sealed class PlanPerformanceCollection;

[Collection(nameof(PlanPerformanceTests))]
public class PlanPerformanceTests(ITestOutputHelper output)
{
    [Fact]
    public void ParseAndRender_TenThousandResources_CloseToBareJsonParseInTimeAndMemory()
    {
        var bytes = PlanFixtures.TenThousand(mixed: true);
        var context = new PlanRenderContext("big");

        // The baseline keeps its document alive, as a parsed plan does: a disposed one hands its pooled buffer to
        // the next parse, which a plan that is still in use cannot do.
        JsonDocument? kept = null;
        void Bare() => kept = JsonDocument.Parse(bytes);
        void Ours() => PlanRenderer.Render(PlanDocument.Parse(bytes).Plan!, context);

        Bare();
        Ours();
        TimeSpan bare = TimeSpan.MaxValue, ours = TimeSpan.MaxValue;
        for (var i = 0; i < 3; i++)
        {
            // Interleaved, best of three: a busy shared machine slows both alike.
            bare = Min(bare, Time(Bare));
            ours = Min(ours, Time(Ours));
        }

        var bareAllocated = Allocated(Bare);
        var allocated = Allocated(Ours);
        GC.KeepAlive(kept);
        output.WriteLine($"{bytes.Length:N0}-byte plan: JsonDocument.Parse {bare.TotalMilliseconds:F1} ms / {bareAllocated:N0} bytes, " +
                         $"parse+render {ours.TotalMilliseconds:F1} ms / {allocated:N0} bytes");

        // The target is 2× (about 1.5× measured alone in Release). On a shared machine LOH garbage collections make the
        // ratio swing between 2× and 8×, so this bound only catches a blow-up such as quadratic rendering.
        Assert.True(ours < bare * 12, $"parse+render {ours.TotalMilliseconds:F1} ms vs JsonDocument.Parse {bare.TotalMilliseconds:F1} ms");

        // JsonDocument's own metadata (about 12 bytes a token) is the floor; the model and the rendering on top of it
        // stay within twice the file size. Allocation is an upper bound on the extra memory held at the peak.
        Assert.True(allocated - bareAllocated < bytes.Length * 2L, $"allocated {allocated:N0} bytes beyond JsonDocument's {bareAllocated:N0}");
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeSpan Time(Action action)
    {
        var watch = Stopwatch.StartNew();
        action();
        return watch.Elapsed;
    }

    private static long Allocated(Action action)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}
