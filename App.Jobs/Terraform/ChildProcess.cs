using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace Ensemble.Jobs.Terraform;

/// <summary>
/// Runs one child process for a runner: lines of stdout and stderr in arrival order, the time limit, and stopping the
/// whole process tree on cancellation or timeout. Shared so every runner stops and reports the same way.
/// </summary>
internal static class ChildProcess
{
    public static async Task<TerraformResult> RunAsync(
        ProcessStartInfo start,
        IReadOnlyDictionary<string, string> environment,
        Func<string, ValueTask> onLine,
        TimeSpan timeout,
        Func<Task>? stopOutside,
        CancellationToken cancellationToken,
        Func<string, bool>? restartsTimer = null)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;
        start.UseShellExecute = false;
        start.StandardOutputEncoding = Encoding.UTF8;
        start.StandardErrorEncoding = Encoding.UTF8;

        // Only what the runner chose: nothing of the App's own environment is inherited.
        start.Environment.Clear();
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        cancellationToken.ThrowIfCancellationRequested();
        using var timer = new CancellationTokenSource(timeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        using var process = new Process { StartInfo = start };
        try
        {
            await Launcher.StartAsync(process);
        }
        catch (Win32Exception e)
        {
            await onLine($"Error: could not start '{start.FileName}': {e.Message}. Check Terraform:Binary and Terraform:Runner (docs/runners.md).");
            return new TerraformResult(127, false);
        }

        process.StandardInput.Close();
        using var gate = new SemaphoreSlim(1, 1);
        async Task Pump(StreamReader reader)
        {
            while (await reader.ReadLineAsync(CancellationToken.None) is { } line)
            {
                if (restartsTimer?.Invoke(line) == true)
                {
                    // The next command of a sequence (StepScript): its own time limit starts now.
                    try
                    {
                        timer.CancelAfter(timeout);
                    }
                    catch (ObjectDisposedException)
                    {
                    }
                }

                await gate.WaitAsync(CancellationToken.None);
                try
                {
                    await onLine(line);
                }
                finally
                {
                    gate.Release();
                }
            }
        }

        var pumps = Task.WhenAll(Pump(process.StandardOutput), Pump(process.StandardError));
        try
        {
            await process.WaitForExitAsync(linked.Token);
        }
        catch (OperationCanceledException)
        {
            // Superseded, shut down or out of time: stop terraform and everything it started (providers).
            if (stopOutside is not null)
            {
                // A container keeps running when its client dies: stop it through the engine first.
                await stopOutside();
            }

            KillTree(process);
            await process.WaitForExitAsync(CancellationToken.None);

            // A grandchild that escaped the tree could keep the pipes open; do not wait for it forever.
            await Task.WhenAny(pumps, Task.Delay(TimeSpan.FromSeconds(5), CancellationToken.None));
            if (timer.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                await onLine($"Error: terraform did not finish within {timeout} (Terraform:Timeout) and was stopped.");
                return new TerraformResult(-1, true);
            }

            throw;
        }

        await pumps;
        return new TerraformResult(process.ExitCode, false);
    }

    /// <summary>
    /// Starts processes from one thread that lives as long as Ensemble. <c>bwrap --die-with-parent</c> uses
    /// PR_SET_PDEATHSIG, which fires when the *thread* that forked it exits — and thread-pool threads come and go,
    /// which killed healthy runs with SIGKILL (exit 137).
    /// </summary>
    private static class Launcher
    {
        // A queue under a monitor rather than a BlockingCollection: the launcher sleeps in Monitor.Wait without the
        // spinning a SemaphoreSlim does before it blocks, which cost CPU after every start on a small machine.
        private static readonly Queue<(Process Process, TaskCompletionSource Done)> Pending = new();

        static Launcher()
        {
            var thread = new Thread(() =>
            {
                while (true)
                {
                    (Process Process, TaskCompletionSource Done) next;
                    lock (Pending)
                    {
                        while (Pending.Count == 0)
                        {
                            Monitor.Wait(Pending);
                        }

                        next = Pending.Dequeue();
                    }

                    try
                    {
                        next.Process.Start();
                        next.Done.SetResult();
                    }
                    catch (Exception e)
                    {
                        next.Done.SetException(e);
                    }
                }
            })
            {
                IsBackground = true,
                Name = "terraform launcher",
            };
            thread.Start();
        }

        public static Task StartAsync(Process process)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (Pending)
            {
                Pending.Enqueue((process, done));
                Monitor.Pulse(Pending);
            }

            return done.Task;
        }
    }

    private static void KillTree(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        catch (Win32Exception)
        {
            // Exited while the tree was being walked.
        }
    }
}
