using Ensemble.App.Dashboard;
using Ensemble.App.FullPlan;
using Ensemble.App.GitHub;
using Ensemble.App.Webhooks;
using Ensemble.Jobs.Jobs;
using Ensemble.Jobs.State;

namespace Ensemble.App.Hosting;

/// <summary>Builds the Ensemble host. Program runs it; tests build it with their own configuration on a loopback port.</summary>
public static class EnsembleApp
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (await Cli.CliCommands.TryRunAsync(args, Console.Out, Console.Error) is { } exitCode)
        {
            return exitCode;
        }

        WebApplication app;
        try
        {
            app = await BuildAsync(args);
        }
        catch (EnsembleConfigurationException e)
        {
            // One line per problem, naming the key: no stack trace for a configuration mistake.
            await Console.Error.WriteLineAsync(e.Message);
            return 1;
        }

        await app.RunAsync();
        return 0;
    }

    public static async Task<WebApplication> BuildAsync(string[] args, Action<ConfigurationManager>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        configure?.Invoke(builder.Configuration);
        var configuration = builder.Configuration;
        var problems = EnsembleConfiguration.Validate(configuration);
        if (problems.Count > 0)
        {
            throw new EnsembleConfigurationException(problems);
        }

        var ensemble = configuration.GetSection(EnsembleOptions.Section).Get<EnsembleOptions>() ?? new EnsembleOptions();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddEnsembleGitHub(configuration);
        builder.Services.AddEnsembleState(configuration);
        builder.Services.AddEnsembleArtifacts(configuration);
        builder.Services.AddEnsembleJobs(configuration);
        builder.Services.AddEnsembleWebhooks();
        builder.Services.AddFullPlanLinks(configuration);

        var app = builder.Build();
        await app.Services.GetRequiredService<IStateStore>().MigrateAsync();

        if (ensemble.RunsWeb)
        {
            app.MapEnsembleWebhooks(configuration["GitHub:WebhookSecret"]!);
            app.MapFullPlan();
            var dashboard = configuration.GetSection(DashboardOptions.Section).Get<DashboardOptions>() ?? new DashboardOptions();
            app.UseEnsembleDashboard(dashboard, DashboardExtensions.ResolvePassword(dashboard, ensemble.WorkDirectory));
        }

        app.MapGet("/", () => Results.Text(
            $"Ensemble is running (role {ensemble.Role}). GitHub webhooks: POST {WebhookExtensions.Path}. Jobs dashboard: {DashboardExtensions.Path}.\n"));
        app.MapGet("/healthz", () => Results.Ok("ok"));
        app.Lifetime.ApplicationStarted.Register(() => StartupBanner.Print(app, ensemble));
        return app;
    }
}
