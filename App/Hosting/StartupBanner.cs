using Ensemble.App.Dashboard;
using Ensemble.App.Webhooks;
using Ensemble.Jobs.Jobs;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Ensemble.App.Hosting;

/// <summary>Tells the person who just started Ensemble where GitHub must send webhooks and how to register the App.</summary>
public static class StartupBanner
{
    public static void Print(WebApplication app, EnsembleOptions options)
    {
        var addresses = app.Services.GetService<IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var local = addresses.FirstOrDefault() ?? "http://localhost:5000";
        var public_ = string.IsNullOrEmpty(options.PublicUrl) ? local : options.PublicUrl.TrimEnd('/');
        var storage = string.IsNullOrWhiteSpace(app.Configuration["Database:ConnectionString"])
            ? $"embedded (SQLite + in-memory jobs under {Path.GetFullPath(options.WorkDirectory)})"
            : "PostgreSQL";
        var password = string.IsNullOrEmpty(app.Configuration["Dashboard:Password"])
            ? $"password in {Path.Combine(Path.GetFullPath(options.WorkDirectory), "dashboard-password")}"
            : "password from Dashboard:Password";
        app.Logger.LogInformation(
            """
            Ensemble is running (role {Role}, state {Storage}).
              Webhook URL for the GitHub App: {Public}{WebhookPath}  (the App's webhook secret must equal GitHub:WebhookSecret)
              Register the App from app-manifest.yml (README, "Register the GitHub App"); GitHub must reach this URL.
              Jobs dashboard: {Local}{DashboardPath} (user {User}, {Password})
            """,
            options.Role, storage, public_, WebhookExtensions.Path, local, DashboardExtensions.Path,
            app.Configuration["Dashboard:Username"] ?? "admin", password);
    }
}
