using Ensemble.Jobs.Terraform;

namespace Ensemble.Tests.Terraform;

public sealed class BubblewrapCommandTests
{
    private static BubblewrapSpec Spec(IReadOnlyList<string>? readOnly = null, IReadOnlyList<ProtectedPath>? secrets = null) => new(
        "bwrap",
        "/var/ens/workspaces/run-1-1",
        "/var/ens/workspaces/run-1-1/src/envs/prod",
        "/usr/local/bin/terraform",
        ["plan", "-out=/var/ens/workspaces/run-1-1/out/plan.tfplan"],
        [new SystemDirectory("/bin", "usr/bin"), new SystemDirectory("/lib64", null)],
        readOnly ?? [],
        secrets ?? [new ProtectedPath("/var/ens", true)]);

    private static bool HasTriple(IReadOnlyList<string> args, string a, string b, string c) =>
        Enumerable.Range(0, args.Count - 2).Any(i => args[i] == a && args[i + 1] == b && args[i + 2] == c);

    [Fact]
    public void Build_Isolation_UnsharesEverythingButNetworkAndDiesWithParent()
    {
        var args = BubblewrapCommand.Build(Spec());

        Assert.Equal("bwrap", args[0]);
        Assert.Contains("--unshare-all", args);
        Assert.Contains("--share-net", args);
        Assert.Contains("--die-with-parent", args);
        Assert.Contains("--new-session", args);
        Assert.Equal("/tmp", args[args.ToList().IndexOf("--tmpfs") + 1]);
        Assert.True(HasTriple(args, "--proc", "/proc", "--dev"));
    }

    [Fact]
    public void Build_Filesystem_SystemReadOnlyWorkspaceWritableAtSamePath()
    {
        var args = BubblewrapCommand.Build(Spec());

        Assert.True(HasTriple(args, "--ro-bind", "/usr", "/usr"));
        Assert.True(HasTriple(args, "--symlink", "usr/bin", "/bin"));
        Assert.True(HasTriple(args, "--ro-bind", "/lib64", "/lib64"));
        Assert.True(HasTriple(args, "--ro-bind-try", "/etc/resolv.conf", "/etc/resolv.conf"));
        Assert.True(HasTriple(args, "--bind", "/var/ens/workspaces/run-1-1", "/var/ens/workspaces/run-1-1"));
        Assert.DoesNotContain("/etc", args);
        // The only writable bind is the workspace.
        Assert.Single(args, a => a == "--bind");
    }

    [Fact]
    public void Build_Command_RunsExecutableWithArgumentsLast()
    {
        var args = BubblewrapCommand.Build(Spec());

        Assert.Equal(["--chdir", "/var/ens/workspaces/run-1-1/src/envs/prod", "/usr/local/bin/terraform", "plan", "-out=/var/ens/workspaces/run-1-1/out/plan.tfplan"], args.TakeLast(5));
    }

    [Fact]
    public void Build_SecretBelowShownDirectory_IsCovered()
    {
        var args = BubblewrapCommand.Build(Spec(
            readOnly: ["/opt/app"],
            secrets: [new ProtectedPath("/opt/app/appsettings.json", false), new ProtectedPath("/usr/lib/ensemble", true), new ProtectedPath("/srv/other", true)]));

        Assert.True(HasTriple(args, "--ro-bind", "/dev/null", "/opt/app/appsettings.json"));
        Assert.DoesNotContain("/srv/other", args);
        var cover = args.ToList().IndexOf("/usr/lib/ensemble");
        Assert.Equal("--tmpfs", args[cover - 1]);
        Assert.True(cover < args.ToList().IndexOf("--bind"), "the workspace is bound after the covers, so it stays writable");
    }

    [Fact]
    public void Build_EnvironmentValues_NeverOnTheCommandLine()
    {
        var args = BubblewrapCommand.Build(Spec());

        Assert.DoesNotContain("--setenv", args);
    }
}
