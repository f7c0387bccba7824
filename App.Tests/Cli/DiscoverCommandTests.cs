using System.Text.Json;
using Ensemble.App.Cli;
using Ensemble.Tests.Git;

namespace Ensemble.Tests.Cli;

/// <summary>The local dry run on real temporary git repositories.</summary>
public sealed class DiscoverCommandTests : IDisposable
{
    private const string Backend = "terraform {\n  backend \"s3\" {}\n}\n";

    private readonly GitSandbox _sandbox = new();
    private readonly TestRepository _repo;
    private readonly string _base;

    public DiscoverCommandTests()
    {
        _repo = TestRepository.Init(_sandbox.NewDirectoryPath("infra"))
            .Write("envs/prod/main.tf", Backend + "module \"app\" {\n  source = \"../../modules/app\"\n}\n")
            .Write("envs/staging/main.tf", Backend + "module \"app\" {\n  source = \"../../modules/app\"\n}\n")
            .Write("envs/sandbox/main.tf", Backend)
            .Write("modules/app/main.tf", "module \"net\" {\n  source = \"../net\"\n}\n")
            .Write("modules/net/main.tf", "resource \"x\" \"y\" {}\n");
        _base = _repo.Commit("base");
    }

    public void Dispose() => _sandbox.Dispose();

    [Fact]
    public async Task RunAsync_ModuleChangeOnHead_ListsTransitiveConsumersWithChain()
    {
        _repo.Git("checkout", "--quiet", "-b", "feature");
        _repo.Write("modules/net/main.tf", "resource \"x\" \"z\" {}\n");
        _repo.Commit("change net");

        var (exit, stdout, stderr) = await Run("--repo", _repo.Path, "--base", "main", "--head", "feature");

        Assert.Equal(0, exit);
        Assert.Equal("", stderr);
        Assert.Contains("2 projects affected", stdout, StringComparison.Ordinal);
        Assert.Contains("envs/prod\n  - modules/net/main.tf changed (envs/prod → modules/app → modules/net)\n", stdout, StringComparison.Ordinal);
        Assert.Contains("envs/staging\n  - modules/net/main.tf changed (envs/staging → modules/app → modules/net)\n", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("envs/sandbox", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_Json_ExactShapeWithDestroy()
    {
        _repo.Git("checkout", "--quiet", "-b", "feature");
        _repo.Delete("envs/sandbox/main.tf");
        _repo.Commit("remove sandbox");

        var (exit, stdout, _) = await Run("--repo", _repo.Path, "--base", "main", "--head", "feature", "--json");

        Assert.Equal(0, exit);
        using var json = JsonDocument.Parse(stdout);
        var project = Assert.Single(json.RootElement.EnumerateArray());
        Assert.Equal(["project", "destroy", "reasons"], project.EnumerateObject().Select(p => p.Name));
        Assert.Equal("envs/sandbox", project.GetProperty("project").GetString());
        Assert.True(project.GetProperty("destroy").GetBoolean());
        Assert.Contains("envs/sandbox was removed: planned as destroy",
            project.GetProperty("reasons").EnumerateArray().Select(r => r.GetString()));
    }

    [Fact]
    public async Task RunAsync_NoChange_EmptyJsonArrayAndExitZero()
    {
        var (exit, stdout, _) = await Run("--repo", _repo.Path, "--base", "main", "--head", "main", "--json");

        Assert.Equal(0, exit);
        Assert.Equal("[]", stdout.Trim());
    }

    [Fact]
    public async Task RunAsync_WorkingTree_SeesUncommittedAndUntrackedChanges()
    {
        _repo.Write("envs/sandbox/main.tf", Backend + "resource \"x\" \"new\" {}\n");
        _repo.Write("envs/new/main.tf", Backend);

        var (exit, stdout, stderr) = await Run("--repo", Path.Combine(_repo.Path, "envs"), "--base", "HEAD");

        Assert.Equal(0, exit);
        Assert.Equal("", stderr);
        Assert.Contains("working tree", stdout, StringComparison.Ordinal);
        Assert.Contains("envs/sandbox\n  - envs/sandbox/main.tf changed\n", stdout, StringComparison.Ordinal);
        Assert.Contains("envs/new\n  - envs/new/main.tf added\n", stdout, StringComparison.Ordinal);
        Assert.Equal("", _repo.Git("diff", "--cached", "--name-only"));
    }

    [Fact]
    public async Task RunAsync_ConfigFromHead_AppliesWhenModifiedAndAutoplan()
    {
        _repo.Git("checkout", "--quiet", "-b", "feature");
        _repo.Write(".ensemble.yml", """
            version: 1
            projects:
              - path: envs/sandbox
                when_modified: ["shared/**"]
              - path: envs/staging
                autoplan: false
            """);
        _repo.Write("shared/policy.json", "{}");
        _repo.Write("modules/app/variables.tf", "variable \"a\" {}\n");
        _repo.Commit("config");

        var (exit, stdout, _) = await Run("--repo", _repo.Path, "--base", "main", "--head", "feature");

        Assert.Equal(0, exit);
        Assert.Contains("envs/sandbox\n  - shared/policy.json matched when_modified glob shared/**\n", stdout, StringComparison.Ordinal);
        Assert.Contains("Skipped:\n  - envs/staging: autoplan is false", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_InvalidConfig_ExitOneNamingLineAndKey()
    {
        _repo.Write(".ensemble.yml", "version: 1\nprojects:\n  - path: envs/prod\n    depends_on: envs/staging\n");

        var (exit, stdout, stderr) = await Run("--repo", _repo.Path, "--base", "HEAD", "--json");

        Assert.Equal(1, exit);
        Assert.Equal("", stdout);
        Assert.Contains("line 4: projects[0].depends_on: expected a list of project paths", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_UnknownRevision_ExitOneWithGitsMessage()
    {
        var (exit, stdout, stderr) = await Run("--repo", _repo.Path, "--base", "no-such-branch", "--head", "main");

        Assert.Equal(1, exit);
        Assert.Equal("", stdout);
        Assert.Contains("'no-such-branch' is not a commit", stderr, StringComparison.Ordinal);
        Assert.Contains("fatal:", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_NotARepository_ExitOne()
    {
        var directory = _sandbox.NewDirectoryPath("plain");
        Directory.CreateDirectory(directory);

        var (exit, _, stderr) = await Run("--repo", directory, "--base", "main");

        Assert.Equal(1, exit);
        Assert.Contains("not a git repository", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new string[0], "--repo is required")]
    [InlineData(new[] { "--repo", "." }, "--base is required")]
    [InlineData(new[] { "--repo", ".", "--base" }, "--base needs a value")]
    [InlineData(new[] { "--repo", ".", "--base", "main", "--verbose" }, "unknown argument '--verbose'")]
    public async Task RunAsync_BadArguments_ExitTwoWithUsage(string[] args, string expected)
    {
        var (exit, stdout, stderr) = await Run(args);

        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.Contains("usage: discover --repo <path> --base <rev> [--head <rev>] [--json]", stderr, StringComparison.Ordinal);
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await DiscoverCommand.RunAsync(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }
}
