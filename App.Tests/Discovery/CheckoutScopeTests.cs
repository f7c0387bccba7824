using Ensemble.Jobs.Config;
using Ensemble.Jobs.Discovery;

namespace Ensemble.Tests.Discovery;

public class CheckoutScopeTests
{
    private const string Backend = "terraform {\n  backend \"s3\" {}\n}\n";

    private static RepoSnapshot Tree(params (string Path, string Text)[] files) =>
        RepoSnapshot.Build(
            files.Where(f => f.Path.EndsWith(".tf", StringComparison.Ordinal)).ToDictionary(f => f.Path, f => HclScanner.Scan(f.Text), StringComparer.Ordinal),
            files.Select(f => f.Path).ToList());

    [Fact]
    public void Paths_ProjectWithModuleChainAndReads_IsProjectModulesAndReadFilesOnly()
    {
        var snapshot = Tree(
            ("envs/prod/main.tf", Backend + "module \"net\" {\n  source = \"../../modules/net\"\n}\nlocals {\n  c = file(\"config/app.yaml\")\n}\n"),
            ("envs/prod/config/app.yaml", "a: 1\n"),
            ("envs/dev/main.tf", Backend),
            ("modules/net/main.tf", "module \"sub\" {\n  source = \"../subnet\"\n}\nlocals {\n  p = file(\"${path.module}/../../policies/net.json\")\n}\n"),
            ("modules/subnet/main.tf", "# leaf\n"),
            ("modules/unused/main.tf", "# nobody calls it\n"),
            ("policies/net.json", "{}"),
            ("policies/other.json", "{}"),
            ("README.md", "# infra\n"));

        var paths = CheckoutScope.Paths(snapshot, "envs/prod");

        // config/app.yaml lies inside the project and is not listed on its own.
        Assert.Equal(["envs/prod", "modules/net", "modules/subnet", "policies/net.json"], paths);
    }

    [Fact]
    public void Paths_RootProject_IsTheWholeTree()
    {
        var snapshot = Tree(("main.tf", Backend), ("modules/a/main.tf", "# a\n"));

        Assert.Null(CheckoutScope.Paths(snapshot, "."));
    }

    [Fact]
    public void Paths_ProjectUsingTheRootAsModule_IsTheWholeTree()
    {
        var snapshot = Tree(("main.tf", "# a module at the root\n"), ("envs/a/main.tf", Backend + "module \"root\" {\n  source = \"../..\"\n}\n"));

        Assert.Null(CheckoutScope.Paths(snapshot, "envs/a"));
    }

    [Fact]
    public void Paths_MissingModuleDirectory_ChecksOutTheProject_AndTerraformReportsTheModule()
    {
        var snapshot = Tree(("envs/a/main.tf", Backend + "module \"gone\" {\n  source = \"../../modules/gone\"\n}\n"));

        Assert.Equal(["envs/a"], CheckoutScope.Paths(snapshot, "envs/a"));
        Assert.Contains(snapshot.Problems, p => p.Message.Contains("modules/gone", StringComparison.Ordinal));
    }

    [Fact]
    public void Of_ProjectInsideAModuleItUses_ComparesTheProjectButChecksOutTheModuleOnce()
    {
        // An example project that lives in the module it calls (modules/vpc/examples/simple → ../..).
        var snapshot = Tree(
            ("modules/vpc/main.tf", "locals {\n  p = file(\"${path.module}/policy.json\")\n}\n"),
            ("modules/vpc/policy.json", "{}"),
            ("modules/vpc/examples/simple/main.tf", Backend + "module \"vpc\" {\n  source = \"../..\"\n}\n"));

        var inputs = CheckoutScope.Of(snapshot, "modules/vpc/examples/simple");

        Assert.Equal(["modules/vpc/examples/simple", "modules/vpc", "modules/vpc/policy.json"], inputs.All);
        Assert.Equal(["modules/vpc"], inputs.Checkout);
        Assert.Equal("`modules/vpc/policy.json` (a file it reads)", inputs.Describe("modules/vpc/policy.json"));
        Assert.Equal("`modules/vpc` (a module it uses)", inputs.Describe("modules/vpc"));
        Assert.Equal("`modules/vpc/examples/simple` (the project)", inputs.Describe("modules/vpc/examples/simple"));
    }

    [Fact]
    public void WithFiles_ExtraPathMatches_AreFilesAndCheckedOut()
    {
        var snapshot = Tree(("envs/a/main.tf", Backend));

        var inputs = CheckoutScope.Of(snapshot, "envs/a").WithFiles(["shared/b.txt", "shared/a.txt", "shared/a.txt"]);

        Assert.Equal(["envs/a", "shared/a.txt", "shared/b.txt"], inputs.All);
        Assert.Equal(["envs/a", "shared/a.txt", "shared/b.txt"], inputs.Checkout);
    }

    [Fact]
    public void Minimal_NestedAndDuplicatePaths_KeepsOnlyOutermost()
    {
        Assert.Equal(["a/b", "a/b-c", "z"], CheckoutScope.Minimal(["z", "a/b/x/y", "a/b", "a/b-c", "a/b/x", "z"]));
    }

    [Theory]
    [InlineData("config/**/*.yaml", "config")]
    [InlineData("shared/envs/*.json", "shared/envs")]
    [InlineData("*.json", ".")]
    [InlineData("**/*.json", ".")]
    [InlineData("shared/{a,b}/x.json", "shared")]
    [InlineData("shared/data.json", "shared")]
    public void ListingRoot_Glob_IsItsLiteralDirectory(string pattern, string expected)
    {
        Assert.Equal(expected, CheckoutScope.ListingRoot(Glob.Parse(pattern)));
    }
}
