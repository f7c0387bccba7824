using Ensemble.Jobs.Core;
using Ensemble.Jobs.Discovery;

namespace Ensemble.Tests.Discovery;

/// <summary>*.tf.json (JSON syntax) and *.tofu / *.tofu.json (OpenTofu) configuration files in discovery.</summary>
public class ConfigurationFilesTests
{
    [Theory]
    [InlineData("a/main.tf", true)]
    [InlineData("a/main.tofu", true)]
    [InlineData("a/main.tf.json", true)]
    [InlineData("a/main.tofu.json", true)]
    [InlineData("a/terraform.tfvars", false)]
    [InlineData("a/terraform.tfvars.json", false)]
    [InlineData("a/policy.json", false)]
    [InlineData("a/.terraform.lock.hcl", false)]
    [InlineData("a/main.tf~", false)]
    [InlineData("a/main.json", false)]
    [InlineData("a/tf", false)]
    [InlineData("a/é.tf", true)]
    public void IsConfiguration_FileName_TellsWhatTerraformOrTofuLoads(string path, bool expected)
    {
        Assert.Equal(expected, ConfigurationFiles.IsConfiguration(path));
        // The listing's test on raw git output must agree, or a configuration file would go unseen.
        Assert.Equal(expected, Ensemble.Jobs.Jobs.ProjectFinder.IsConfigurationUtf8(System.Text.Encoding.UTF8.GetBytes(path)));
    }

    [Fact]
    public void Scan_ByExtension_UsesTheMatchingSyntax()
    {
        Assert.Equal(new BackendBlock("s3", 1), ConfigurationFiles.Scan("a/backend.tf.json", """{"terraform": {"backend": {"s3": {}}}}""").Backend);
        Assert.Equal(new BackendBlock("gcs", 2), ConfigurationFiles.Scan("a/backend.tofu", "terraform {\n  backend \"gcs\" {}\n}\n").Backend);
        Assert.NotEqual(ConfigurationFiles.FactsKey("a.tf", "abc"), ConfigurationFiles.FactsKey("a.tf.json", "abc"));
    }

    private static RepoSnapshot Tree(params (string Path, string Text)[] files)
    {
        var facts = files.Where(f => ConfigurationFiles.IsConfiguration(f.Path))
            .ToDictionary(f => f.Path, f => ConfigurationFiles.Scan(f.Path, f.Text), StringComparer.Ordinal);
        return RepoSnapshot.Build(facts, files.Select(f => f.Path).ToList());
    }

    private static readonly RepoSnapshot Mixed = Tree(
        ("json/backend.tf.json", """{"terraform": {"backend": {"s3": {}}}}"""),
        ("json/main.tf.json", """{"module": {"net": {"source": "../modules/net"}}}"""),
        ("json/terraform.tfvars.json", "{}"),
        ("tofu/backend.tofu", "terraform {\n  backend \"pg\" {}\n}\n"),
        ("tofu/main.tofu", "module \"app\" {\n  source = \"../modules/app\"\n}\n"),
        ("modules/net/main.tf.json", """{"output": {"id": {"value": "x"}}}"""),
        ("modules/app/main.tofu", """locals { x = file("${path.module}/policy.json") }"""),
        ("modules/app/policy.json", "{}"),
        ("hcl/backend.tf", "terraform {\n  backend \"local\" {}\n}\n"));

    [Fact]
    public void Build_JsonAndTofuFiles_DeclareProjectsAndModules()
    {
        Assert.Equal(
            [new Project("hcl", "local"), new Project("json", "s3"), new Project("tofu", "pg")],
            Mixed.Projects);
        Assert.Equal(["modules/net"], Mixed.DirectModules("json"));
        Assert.Equal(["modules/app"], Mixed.DirectModules("tofu"));
        Assert.Empty(Mixed.Problems);
    }

    [Theory]
    [InlineData("json/main.tf.json", new[] { "json" })]
    [InlineData("json/terraform.tfvars.json", new[] { "json" })]
    [InlineData("tofu/main.tofu", new[] { "tofu" })]
    [InlineData("modules/net/main.tf.json", new[] { "json" })]
    [InlineData("modules/app/main.tofu", new[] { "tofu" })]
    [InlineData("modules/app/policy.json", new[] { "tofu" })]
    public void Affected_ChangedJsonOrTofuFile_MarksItsProjects(string path, string[] expected)
    {
        var result = ProjectDiscovery.Affected(Mixed, Mixed, [new ChangedFile(path, ChangeKind.Modified)]);

        Assert.Equal(expected, result.Projects.Select(p => p.Path));
    }

    [Fact]
    public void Affected_BackendMovedFromTfToTfJson_KeepsTheProject()
    {
        var before = Tree(("a/backend.tf", "terraform {\n  backend \"s3\" {}\n}\n"));
        var after = Tree(("a/backend.tf.json", """{"terraform": {"backend": {"s3": {}}}}"""));

        var result = ProjectDiscovery.Affected(after, before, [new ChangedFile("a/backend.tf.json", ChangeKind.Renamed, "a/backend.tf")]);

        var project = Assert.Single(result.Projects);
        Assert.Equal("a", project.Path);
        Assert.False(project.Destroy);
    }

    [Fact]
    public void Build_TofuFileNextToTfOfSameName_OverridesIt()
    {
        // OpenTofu loads backend.tofu and ignores backend.tf; main.tf has no twin and still counts.
        var tree = Tree(
            ("a/backend.tf", "terraform {\n  backend \"s3\" {}\n}\n"),
            ("a/backend.tofu", "terraform {\n  backend \"pg\" {}\n}\n"),
            ("a/main.tf", "module \"m\" {\n  source = \"../m\"\n}\n"),
            ("b/backend.tf.json", """{"terraform": {"backend": {"s3": {}}}}"""),
            ("b/backend.tofu.json", """{"terraform": {"backend": {"gcs": {}}}}"""),
            ("m/main.tf", ""));

        Assert.Equal([new Project("a", "pg"), new Project("b", "gcs")], tree.Projects);
        Assert.Equal(["m"], tree.DirectModules("a"));
        Assert.Empty(tree.Problems); // no "duplicate backend" from the shadowed files
    }

    [Fact]
    public void Build_BackendInBothTfAndTfJson_IsADuplicate()
    {
        var tree = Tree(
            ("a/backend.tf", "terraform {\n  backend \"s3\" {}\n}\n"),
            ("a/backend.tf.json", """{"terraform": {"backend": {"s3": {}}}}"""));

        Assert.Equal(["a/backend.tf.json:1: duplicate backend configuration in a (first in a/backend.tf)"], tree.Problems.Select(p => p.Message));
    }

    [Fact]
    public void Affected_InvalidJsonInChangedProject_ReportsProblem()
    {
        var tree = Tree(
            ("a/backend.tf", "terraform {\n  backend \"s3\" {}\n}\n"),
            ("a/extra.tf.json", "{\"locals\": "));

        var result = ProjectDiscovery.Affected(tree, tree, [new ChangedFile("a/extra.tf.json", ChangeKind.Modified)]);

        Assert.Equal(["a"], result.Projects.Select(p => p.Path));
        Assert.StartsWith("a/extra.tf.json:1: invalid JSON", Assert.Single(result.Problems), StringComparison.Ordinal);
    }
}
