using System.Net;
using System.Net.Sockets;
using System.Text;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Git;

namespace Ensemble.Tests.Git;

/// <summary>The installation token reaches the git server as a header and nowhere else.</summary>
[Trait("Category", "Integration")] // runs the real git CLI
public sealed class GitMirrorTokenTests : IDisposable
{
    private const string Token = "ghs_SECRET123";
    private static readonly string Basic = Convert.ToBase64String(Encoding.UTF8.GetBytes($"x-access-token:{Token}"));
    private readonly GitSandbox _sandbox = new();

    public void Dispose() => _sandbox.Dispose();

    [Fact]
    public async Task FetchAsync_WithToken_SendsBasicHeaderAndNeverLeaksTheToken()
    {
        await using var server = FakeGitServer.Start();
        var logger = new CapturingLogger<GitMirror>();
        var mirror = new GitMirror(new GitMirrorOptions(_sandbox.WorkDirectory, server.BaseUrl), logger);

        var error = await Assert.ThrowsAsync<GitException>(() =>
            mirror.FetchAsync(new RepoRef(7, "owner", "repo"), Token, ["refs/pull/12/head"], [], CancellationToken.None));

        var request = Assert.Single(server.Requests, r => r.StartsWith("GET ", StringComparison.Ordinal));
        var requestLine = request.Split("\r\n")[0];
        Assert.StartsWith("GET /owner/repo.git/info/refs?service=git-upload-pack ", requestLine, StringComparison.Ordinal);
        Assert.Contains($"\r\nAuthorization: Basic {Basic}\r\n", request, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(Token, requestLine, StringComparison.Ordinal);
        Assert.DoesNotContain(Basic, requestLine, StringComparison.Ordinal);

        Assert.Contains("500", error.Message, StringComparison.Ordinal);
        AssertClean(error.ToString());
        Assert.NotEmpty(logger.Entries);
        Assert.All(logger.Entries, AssertClean);
        Assert.All(server.ProcessArgumentsSeen, AssertClean);
        if (OperatingSystem.IsLinux())
        {
            Assert.Contains(server.ProcessArgumentsSeen, a => a.Contains("fetch", StringComparison.Ordinal)); // the scan did see git
        }

        Assert.DoesNotContain(Token, File.ReadAllText(Path.Combine(mirror.MirrorPath(new RepoRef(7, "owner", "repo")), "config")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task FetchAsync_ServerHangs_CancellationKillsGitPromptly()
    {
        await using var server = FakeGitServer.Start(hang: true);
        var mirror = new GitMirror(new GitMirrorOptions(_sandbox.WorkDirectory, server.BaseUrl), new CapturingLogger<GitMirror>());
        using var cancellation = new CancellationTokenSource();

        var fetch = mirror.FetchAsync(new RepoRef(7, "owner", "repo"), Token, ["refs/heads/main"], [], cancellation.Token);
        await server.FirstRequest.WaitAsync(TimeSpan.FromSeconds(10));
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fetch.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    private static void AssertClean(string text)
    {
        Assert.DoesNotContain(Token, text, StringComparison.Ordinal);
        Assert.DoesNotContain(Basic, text, StringComparison.Ordinal);
    }

    /// <summary>
    /// A minimal HTTP endpoint that records requests and answers 500 (or nothing). While a request is open it
    /// also records the command lines of this user's git processes, which any local user could read.
    /// </summary>
    private sealed class FakeGitServer : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly bool _hang;
        private readonly CancellationTokenSource _stop = new();
        private readonly List<string> _requests = [];
        private readonly List<string> _arguments = [];
        private readonly TaskCompletionSource _firstRequest = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Task _loop;

        private FakeGitServer(bool hang)
        {
            _hang = hang;
            _listener = new TcpListener(IPAddress.Loopback, 0);
            _listener.Start();
            _loop = AcceptLoopAsync();
        }

        public string BaseUrl => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/";

        public Task FirstRequest => _firstRequest.Task;

        public IReadOnlyList<string> Requests
        {
            get
            {
                lock (_requests)
                {
                    return [.. _requests];
                }
            }
        }

        public IReadOnlyList<string> ProcessArgumentsSeen
        {
            get
            {
                lock (_arguments)
                {
                    return [.. _arguments];
                }
            }
        }

        public static FakeGitServer Start(bool hang = false) => new(hang);

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            try
            {
                await _loop;
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // Stopped.
            }

            _stop.Dispose();
        }

        private async Task AcceptLoopAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                _ = HandleAsync(client);
            }
        }

        private async Task HandleAsync(TcpClient client)
        {
            using (client)
            {
                var stream = client.GetStream();
                var buffer = new byte[16 * 1024];
                var received = new StringBuilder();
                while (!received.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    var read = await stream.ReadAsync(buffer, _stop.Token);
                    if (read == 0)
                    {
                        return;
                    }

                    received.Append(Encoding.ASCII.GetString(buffer, 0, read));
                }

                lock (_requests)
                {
                    _requests.Add(received.ToString());
                }

                RecordGitCommandLines();
                _firstRequest.TrySetResult();
                if (_hang)
                {
                    await Task.Delay(Timeout.Infinite, _stop.Token);
                }

                var response = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray();
                await stream.WriteAsync(response, _stop.Token);
            }
        }

        private void RecordGitCommandLines()
        {
            if (!OperatingSystem.IsLinux())
            {
                return;
            }

            foreach (var directory in Directory.EnumerateDirectories("/proc"))
            {
                try
                {
                    var commandLine = File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ');
                    if (commandLine.Contains("git", StringComparison.Ordinal))
                    {
                        lock (_arguments)
                        {
                            _arguments.Add(commandLine);
                        }
                    }
                }
                catch (IOException)
                {
                    // The process ended meanwhile.
                }
                catch (UnauthorizedAccessException)
                {
                    // Not ours.
                }
            }
        }
    }
}
