using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Ensemble.Jobs.Terraform;

/// <summary>
/// Runs terraform as a Kubernetes Job per command, in <c>Terraform:Kubernetes:Namespace</c>, reaching the workspace
/// through a ReadWriteMany volume mounted at the work directory in Ensemble's pod and (the workspace only) in the Job
/// (docs/runners.md, deploy/kubernetes/rbac.yaml). Uses in-cluster credentials, else the kubeconfig.
/// </summary>
public sealed class KubernetesTerraformRunner : ITerraformRunner
{
    private readonly TerraformOptions _options;
    private readonly string _workDirectory;
    private readonly Lazy<IKubernetes> _client;
    private readonly ILogger? _logger;

    public KubernetesTerraformRunner(TerraformOptions options, string workDirectory, ILoggerFactory? loggerFactory = null, IKubernetes? client = null)
    {
        _options = options;
        _workDirectory = Path.GetFullPath(workDirectory);
        _logger = loggerFactory?.CreateLogger<KubernetesTerraformRunner>();
        _client = new Lazy<IKubernetes>(() => client ?? new Kubernetes(KubernetesClientConfiguration.BuildDefaultConfig()));
    }

    public async Task<TerraformResult> RunAsync(TerraformInvocation invocation, Func<string, ValueTask> onLine, CancellationToken cancellationToken)
    {
        var workspace = TerraformWorkspace.Locate(invocation, _workDirectory);
        Directory.CreateDirectory(TerraformEnvironment.PluginCacheDirectory(invocation.HomeDirectory));
        var image = invocation.Tool?.Executable ?? TerraformRunnerFactory.ResolveTool(_options, VersionHints.None).Tool!.Executable;
        var name = $"ensemble-tf-{Guid.NewGuid():N}"[..32];
        var env = TerraformEnvironment.Build(Environment.GetEnvironmentVariable, _options.Environment, invocation.HomeDirectory, invocation.TempDirectory);
        var (job, secret) = KubernetesJobManifest.Build(new KubernetesJobSpec(
            name, image, _workDirectory, workspace, Path.GetFullPath(invocation.WorkingDirectory), invocation.Arguments, env,
            _options.Kubernetes, _options.Timeout, _options.Cpus, _options.MemoryMiB));
        var ns = _options.Kubernetes.Namespace;
        var client = _client.Value;

        using var timer = new CancellationTokenSource(_options.Timeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        await client.CoreV1.CreateNamespacedSecretAsync(secret, ns, cancellationToken: cancellationToken);
        try
        {
            await client.BatchV1.CreateNamespacedJobAsync(job, ns, cancellationToken: cancellationToken);
            var pod = await WaitForPodAsync(client, ns, name, linked.Token);
            if (pod is not null)
            {
                await using var logs = await client.CoreV1.ReadNamespacedPodLogAsync(pod, ns, container: KubernetesJobManifest.ContainerName, follow: true, cancellationToken: linked.Token);
                using var reader = new StreamReader(logs);
                while (await reader.ReadLineAsync(linked.Token) is { } line)
                {
                    await onLine(line);
                }
            }

            var exit = await WaitForExitCodeAsync(client, ns, name, linked.Token);
            return new TerraformResult(exit, false);
        }
        catch (OperationCanceledException) when (timer.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            await onLine($"Error: terraform did not finish within {_options.Timeout} (Terraform:Timeout) and was stopped.");
            return new TerraformResult(-1, true);
        }
        finally
        {
            // Foreground deletion takes the pod (and terraform with it) down too; the Secret goes with the run.
            await IgnoreMissingAsync(() => client.BatchV1.DeleteNamespacedJobAsync(name, ns, propagationPolicy: "Foreground", cancellationToken: CancellationToken.None));
            await IgnoreMissingAsync(() => client.CoreV1.DeleteNamespacedSecretAsync(name, ns, cancellationToken: CancellationToken.None));
        }
    }

    private static async Task<string?> WaitForPodAsync(IKubernetes client, string ns, string job, CancellationToken cancellationToken)
    {
        while (true)
        {
            var pods = await client.CoreV1.ListNamespacedPodAsync(ns, labelSelector: $"{KubernetesJobManifest.RunLabel}={job}", cancellationToken: cancellationToken);
            foreach (var pod in pods.Items)
            {
                if (pod.Status?.Phase is "Running" or "Succeeded" or "Failed")
                {
                    return pod.Metadata.Name;
                }
            }

            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        }
    }

    private static async Task<int> WaitForExitCodeAsync(IKubernetes client, string ns, string job, CancellationToken cancellationToken)
    {
        while (true)
        {
            var pods = await client.CoreV1.ListNamespacedPodAsync(ns, labelSelector: $"{KubernetesJobManifest.RunLabel}={job}", cancellationToken: cancellationToken);
            var terminated = pods.Items
                .SelectMany(p => p.Status?.ContainerStatuses ?? [])
                .Where(c => c.Name == KubernetesJobManifest.ContainerName)
                .Select(c => c.State?.Terminated)
                .FirstOrDefault(t => t is not null);
            if (terminated is not null)
            {
                return terminated.ExitCode;
            }

            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        }
    }

    private async Task IgnoreMissingAsync(Func<Task> delete)
    {
        try
        {
            await delete();
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
        }
        catch (HttpOperationException e)
        {
            _logger?.LogWarning(e, "Could not clean up a terraform Job or Secret; its TTL removes the Job later.");
        }
    }
}
