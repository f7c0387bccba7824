using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Ensemble.Bench.PrThroughput;

/// <summary>The real Ensemble App (its own Release build, its own runtimeconfig) as a child process on a loopback port.</summary>
public sealed class ChildApp : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;

    private ChildApp(Process process, Uri baseUri, StreamWriter log, string logPath)
    {
        _process = process;
        BaseUri = baseUri;
        _log = log;
        LogPath = logPath;
    }

    public Uri BaseUri { get; }
    public string LogPath { get; }
    public int Pid => _process.Id;

    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static async Task<ChildApp> StartAsync(string appDll, int port, IReadOnlyDictionary<string, string> environment, string logPath)
    {
        var baseUri = new Uri($"http://127.0.0.1:{port}/");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(appDll);
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add(baseUri.ToString().TrimEnd('/'));
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        var log = new StreamWriter(logPath) { AutoFlush = true };
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start dotnet {appDll}");
        // Drained continuously: a full pipe would block the App's logger and distort the measurement.
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var child = new ChildApp(process, baseUri, log, logPath);

        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.GetTimestamp() + 90 * Stopwatch.Frequency;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"the App exited with code {process.ExitCode} before answering; see {logPath}");
            }

            try
            {
                using var response = await probe.GetAsync(new Uri(baseUri, "/healthz"));
                if (response.IsSuccessStatusCode)
                {
                    return child;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }

            await Task.Delay(200);
        }

        await child.DisposeAsync();
        throw new TimeoutException($"the App did not answer /healthz on {baseUri} within 90 s; see {logPath}");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // SIGTERM first so the host stops gracefully (Hangfire deregisters its server), then insist.
            using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await term.WaitForExitAsync();
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(35));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }

        _process.Dispose();
        lock (_log)
        {
            _log.Dispose();
        }
    }
}
