using System.Diagnostics;
using Ensemble.App.Hosting;
using Microsoft.Extensions.Configuration;

namespace Ensemble.Tests.Hosting;

public sealed class StartupTests
{
    private static IConfiguration Config(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Fact]
    public void Validate_NoWebhookSecret_NamesTheKey()
    {
        var problems = EnsembleConfiguration.Validate(Config(("GitHub:AppId", "1"), ("GitHub:PrivateKeyPath", "/nonexistent/app.pem"), ("Terraform:Runner", "process")));

        Assert.Contains(problems, p => p.StartsWith("GitHub:WebhookSecret is required", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("GitHub:PrivateKeyPath", StringComparison.Ordinal) && p.Contains("/nonexistent/app.pem", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_WorkerRoleWithoutDatabase_Refused()
    {
        var problems = EnsembleConfiguration.Validate(Config(("Ensemble:Role", "worker"), ("Terraform:Runner", "process")));

        Assert.Contains(problems, p => p.Contains("Database:ConnectionString", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_UnknownRunner_Refused()
    {
        var problems = EnsembleConfiguration.Validate(Config(("Terraform:Runner", "chroot")));

        Assert.Contains(problems, p => p.Contains("chroot", StringComparison.Ordinal));
    }

    /// <summary>The real binary, started the way an operator starts it, with no secret configured.</summary>
    [Fact]
    public async Task App_StartedWithoutSecret_ExitsWithOneClearLinePerProblem()
    {
        var app = Path.Combine(AppContext.BaseDirectory, "Ensemble.App.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = Path.GetTempPath() };
        start.ArgumentList.Add(app);
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("GitHub__", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["GitHub__AppId"] = "12";
        start.Environment["GitHub__PrivateKeyPath"] = "/nonexistent/app.pem";
        start.Environment["Terraform__Runner"] = "process";
        using var process = Process.Start(start)!;
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(1, process.ExitCode);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("Ensemble cannot start:", lines[0]);
        Assert.Contains(lines, l => l.Trim().StartsWith("GitHub:WebhookSecret is required", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("GitHub:PrivateKeyPath '/nonexistent/app.pem' cannot be read", StringComparison.Ordinal));
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }
}
