using System.Security.Cryptography;
using System.Text;
using Hangfire;
using Hangfire.Dashboard;

namespace Ensemble.App.Dashboard;

/// <summary>Configuration section <c>Dashboard</c>: who may open <c>/hangfire</c>.</summary>
public sealed class DashboardOptions
{
    public const string Section = "Dashboard";

    public string Username { get; set; } = "admin";

    /// <summary>
    /// The dashboard password. When empty, Ensemble generates one at first start and keeps it in
    /// <c>&lt;WorkDirectory&gt;/dashboard-password</c> (mode 0600), so the dashboard is never open and never
    /// accidentally local-only; the password itself is never logged.
    /// </summary>
    public string? Password { get; set; }
}

/// <summary>
/// HTTP Basic authentication for the Hangfire dashboard, compared in constant time. Serve Ensemble behind TLS: Basic
/// credentials travel with every request.
/// </summary>
public sealed class BasicAuthDashboardFilter(string username, string password) : IDashboardAuthorizationFilter
{
    private readonly byte[] _expected = SHA256.HashData(Encoding.UTF8.GetBytes($"{username}:{password}"));

    public bool Authorize(DashboardContext context)
    {
        var http = context.GetHttpContext();
        var header = http.Request.Headers.Authorization.ToString();
        if (header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                var supplied = SHA256.HashData(Convert.FromBase64String(header["Basic ".Length..].Trim()));
                if (CryptographicOperations.FixedTimeEquals(supplied, _expected))
                {
                    return true;
                }
            }
            catch (FormatException)
            {
                // Not base64: treated as no credentials.
            }
        }

        // Hangfire answers 401 when this returns false; the header makes browsers ask for credentials.
        http.Response.Headers.WWWAuthenticate = "Basic realm=\"Ensemble dashboard\", charset=\"UTF-8\"";
        return false;
    }
}

public static class DashboardExtensions
{
    public const string Path = "/hangfire";

    public static string ResolvePassword(DashboardOptions options, string workDirectory)
    {
        if (!string.IsNullOrEmpty(options.Password))
        {
            return options.Password;
        }

        var file = System.IO.Path.Combine(System.IO.Path.GetFullPath(workDirectory), "dashboard-password");
        if (File.Exists(file))
        {
            return File.ReadAllText(file).Trim();
        }

        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(file)!);
        var generated = Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)).Replace('+', '-').Replace('/', '_');
        var fileOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(file, fileOptions))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(generated);
        }
        return generated;
    }

    public static IApplicationBuilder UseEnsembleDashboard(this IApplicationBuilder app, DashboardOptions options, string password) =>
        app.UseHangfireDashboard(Path, new Hangfire.DashboardOptions
        {
            Authorization = [new BasicAuthDashboardFilter(options.Username, password)],
            DashboardTitle = "Ensemble jobs",
            DisplayStorageConnectionString = false,
        });
}
