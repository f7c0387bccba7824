using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Ensemble.Tests.TerraformSim;

public sealed class TerraformSimSpecialTypeTests : SimTestBase
{
    [Fact]
    public void Plan_SimSensitive_MarksValueSensitiveAndHidesItInText()
    {
        _ws.Write("main.tf", "resource \"sim_sensitive\" \"s\" {\n  value = \"hunter2\"\n}\noutput \"pw\" {\n  value = \"x\"\n  sensitive = true\n}\n");

        var plan = _ws.InitAndPlan();

        Assert.DoesNotContain("hunter2", plan.Stdout);
        Assert.Contains("(sensitive value)", plan.Stdout);
        var json = _ws.ShowJson();
        var change = Change(json, "sim_sensitive.s");
        Assert.True(change["after_sensitive"]!["value"]!.GetValue<bool>());
        Assert.Equal("hunter2", change["after"]!["value"]!.GetValue<string>()); // show -json carries secrets in clear, like terraform
        Assert.True(json["output_changes"]!["pw"]!["after_sensitive"]!.GetValue<bool>());
        ApplyAndReplanUpdate();

        void ApplyAndReplanUpdate()
        {
            _ws.Apply();
            _ws.Write("main.tf", "resource \"sim_sensitive\" \"s\" {\n  value = \"hunter3\"\n}\n");
            _ws.Plan("update");
            var update = Change(_ws.ShowJson("update"), "sim_sensitive.s");
            Assert.True(update["before_sensitive"]!["value"]!.GetValue<bool>());
        }
    }

    [Fact]
    public void Plan_SimProbe_ReportsEnvironmentAndFileItObserved()
    {
        var secret = Path.Combine(_ws.Dir, "secret.txt");
        File.WriteAllText(secret, "top secret");
        _ws.Write("main.tf", $"resource \"sim_probe\" \"p\" {{\n  env = \"SIM_PROBE_VAR\"\n  file = \"{secret}\"\n}}\nresource \"sim_probe\" \"q\" {{\n  env = \"SIM_PROBE_UNSET\"\n  file = \"/nonexistent/x\"\n}}\n");
        Assert.Equal(0, _ws.Run("init", "-input=false").ExitCode);

        var plan = _ws.Run(["plan", "-input=false", "-no-color", "-out=tfplan"], new Dictionary<string, string?> { ["SIM_PROBE_VAR"] = "visible", ["SIM_PROBE_UNSET"] = null });

        Assert.Equal(0, plan.ExitCode);
        Assert.Contains("sim_probe.p: observed_env=\"visible\"", plan.Stdout);
        Assert.Contains("sim_probe.p: observed_file=\"top secret\"", plan.Stdout);
        var json = _ws.ShowJson();
        Assert.Equal("visible", Change(json, "sim_probe.p")["after"]!["observed_env"]!.GetValue<string>());
        Assert.Equal("(unset)", Change(json, "sim_probe.q")["after"]!["observed_env"]!.GetValue<string>());
        Assert.Equal("(unreadable)", Change(json, "sim_probe.q")["after"]!["observed_file"]!.GetValue<string>());
    }

    [Fact]
    public async Task Plan_SimSlow_StreamsProgressBeforeExiting()
    {
        _ws.Write("main.tf", "resource \"sim_slow\" \"w\" {\n  seconds = 2\n}\n");
        Assert.Equal(0, _ws.Run("init", "-input=false").ExitCode);
        using var process = _ws.Start(["plan", "-input=false", "-no-color"]);
        var stderr = process.StandardError.ReadToEndAsync();
        var clock = Stopwatch.StartNew();

        string? line;
        do
        {
            line = await process.StandardOutput.ReadLineAsync();
        }
        while (line is not null && !line.Contains("Still reading", StringComparison.Ordinal));
        var exitedBeforeFirstLine = process.HasExited;
        var firstLineAt = clock.Elapsed;
        await process.WaitForExitAsync();

        Assert.Equal("sim_slow.w: Still reading... [1s elapsed]", line);
        Assert.False(exitedBeforeFirstLine, "the progress line must arrive while terraform is still running");
        Assert.True(clock.Elapsed - firstLineAt > TimeSpan.FromMilliseconds(500), $"exit came only {clock.Elapsed - firstLineAt} after the first line");
        Assert.Equal(0, process.ExitCode);
        Assert.Equal("", await stderr);
    }
}
