using Ensemble.Jobs.Discovery;

namespace Ensemble.Tests.Discovery;

public class JsonConfigScannerTests
{
    public static TheoryData<string, string, string, int> Backends => new()
    {
        { "object", """{"terraform": {"backend": {"s3": {"bucket": "b"}}}}""", "s3", 1 },
        { "terraform as array of objects", "{\n  \"terraform\": [\n    {\"required_version\": \">= 1.5\"},\n    {\"backend\": {\"gcs\": {}}}\n  ]\n}", "gcs", 4 },
        { "backend as array", "{\"terraform\": {\"backend\": [{\"azurerm\": {}}]}}", "azurerm", 1 },
        { "cloud block", "{\n\"terraform\": {\n\"cloud\": {\"organization\": \"acme\"}\n}\n}", "cloud", 3 },
    };

    [Theory]
    [MemberData(nameof(Backends))]
    public void Scan_TerraformBackend_ReportsTypeAndLine(string why, string text, string type, int line)
    {
        var facts = JsonConfigScanner.Scan(text);

        Assert.True(facts.Backend == new BackendBlock(type, line), why);
        Assert.Empty(facts.Problems);
    }

    [Theory]
    [InlineData("""{"backend": {"s3": {}}}""")]
    [InlineData("""{"resource": {"x": {"y": {"terraform": {"backend": {"s3": {}}}}}}}""")]
    [InlineData("""{"locals": {"backend": "s3", "terraform": {"backend": {"s3": {}}}}}""")]
    public void Scan_BackendOutsideTopLevelTerraform_IsNotABackend(string text)
    {
        Assert.Null(JsonConfigScanner.Scan(text).Backend);
    }

    [Fact]
    public void Scan_Modules_ReportsEachCallAndClassifiesSources()
    {
        const string text = """
            {
              "module": {
                "net": {"source": "../modules/net", "cidr": "10.0.0.0/16"},
                "vpc": {"source": "terraform-aws-modules/vpc/aws", "version": "5.0.0"}
              },
              "//": "module here is a comment, not a call",
              "resource": {"aws_s3_bucket": {"module": {"source": "./not-a-module"}}}
            }
            """;

        var facts = JsonConfigScanner.Scan(text);

        Assert.Equal(
            [
                new ModuleCall("net", "../modules/net", true, 3),
                new ModuleCall("vpc", "terraform-aws-modules/vpc/aws", false, 4),
            ],
            facts.Modules);
        Assert.Empty(facts.Problems);
    }

    [Fact]
    public void Scan_ModuleGivenAsArrayOfObjects_ReportsTheCall()
    {
        var facts = JsonConfigScanner.Scan("""{"module": [{"app": [{"source": "./app"}]}]}""");

        Assert.Equal([new ModuleCall("app", "./app", true, 1)], facts.Modules);
    }

    [Fact]
    public void Scan_RequiredVersionAndReads_AreRecorded()
    {
        const string text = """
            {
              "terraform": {"required_version": "~> 1.6.0"},
              "locals": {
                "policy": "${file(\"${path.module}/policy.json\")}",
                "plain": "file(\"not-a-call.json\")",
                "escaped": "$${file(\"literal.json\")}",
                "user_data": "${templatefile(\"templates/init.tpl\", {name = \"x\"})}-${var.suffix}"
              }
            }
            """;

        var facts = JsonConfigScanner.Scan(text);

        Assert.Equal("~> 1.6.0", facts.RequiredVersion);
        Assert.Equal(
            [
                new FileRead("policy.json", ReadBase.ModuleDirectory, 4),
                new FileRead("templates/init.tpl", ReadBase.ProjectDirectory, 7),
            ],
            facts.ReadFiles);
        Assert.Empty(facts.Problems);
    }

    public static TheoryData<string, string, int, string> Malformed => new()
    {
        { "truncated", "{\n  \"terraform\": {\"backend\": {\"s3\": {}\n", 3, "invalid JSON" },
        { "empty file", "", 1, "invalid JSON" },
        { "trailing text", "{}\n}", 2, "invalid JSON" },
        { "root not an object", "[1, 2]", 1, "the root of a JSON configuration must be an object" },
        { "module without source", "{\"module\": {\"x\": {\"count\": 2}}}", 1, "module 'x' has no source" },
        { "interpolated source", "{\"module\": {\"x\": {\n\"source\": \"${var.dir}\"}}}", 2, "module source must be a literal string" },
        { "terraform not an object", "{\"terraform\": \"s3\"}", 1, "terraform must be an object" },
        { "two backends", "{\"terraform\": {\"backend\": {\"s3\": {},\n \"gcs\": {}}}}", 2, "duplicate backend configuration (first at line 1)" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Scan_MalformedInput_ReportsProblemWithLine(string why, string text, int line, string message)
    {
        var problem = Assert.Single(JsonConfigScanner.Scan(text).Problems);

        Assert.True(problem.Line == line, $"{why}: line {problem.Line}");
        Assert.StartsWith(message, problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Scan_NestedTooDeeply_ReportsProblemInsteadOfThrowing()
    {
        var text = "{\"a\":" + string.Concat(Enumerable.Repeat("[", 10_000)) + string.Concat(Enumerable.Repeat("]", 10_000)) + "}";

        var facts = JsonConfigScanner.Scan(text);

        Assert.StartsWith("invalid JSON", Assert.Single(facts.Problems).Message, StringComparison.Ordinal);
    }
}
