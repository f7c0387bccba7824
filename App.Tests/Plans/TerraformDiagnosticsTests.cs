using Ensemble.Jobs.Core;
using Ensemble.Jobs.Plans;
using Ensemble.Tests.TerraformSim;

namespace Ensemble.Tests.Plans;

public class TerraformDiagnosticsTests
{
    // terraform 1.x plan -no-color (format.DiagnosticPlain), with the init/plan lines Ensemble's log holds before it.
    private const string PlainLog = """
        $ terraform plan -input=false -no-color -detailed-exitcode -out=/w/out/plan.tfplan
        aws_s3_bucket.logs: Refreshing state... [id=logs]

        Error: Unsupported argument

          on main.tf line 7, in resource "aws_s3_bucket" "logs":
           7:   bucket_name = "logs"

        An argument named "bucket_name" is not expected here. Did you mean "bucket"?

        Warning: Argument is deprecated

          on ../modules/net/main.tf line 3, in resource "aws_vpc" "main":
           3:   enable_classiclink = false

        With the retirement of EC2-Classic the enable_classiclink attribute has been
        deprecated and will be removed in a future version.

        Error: Failed to query available provider packages

        Could not retrieve the list of available versions for provider hashicorp/aws.
        """;

    // The boxed form of coloured output, after the colour codes are gone, with a value hint under the snippet.
    private const string BoxedLog = """
        ╷
        │ Error: Invalid count argument
        │ 
        │   on main.tf line 3, in resource "aws_instance" "web":
        │    3:   count = var.n
        │     ├────────────────
        │     │ var.n is -1
        │ 
        │ The given "count" argument value is unsuitable: must be greater than or
        │ equal to zero.
        ╵
        ╷
        │ Error: Module not installed
        │ 
        │   on .terraform/modules/vpc/main.tf line 1:
        │    1: module "subnets" {
        │ 
        │ This module is not yet installed. Run "terraform init".
        ╵
        """;

    [Fact]
    public void Parse_PlainOutput_SeverityFileLineAndDetail()
    {
        var found = TerraformDiagnostics.Parse(PlainLog);

        Assert.Equal(
        [
            new TerraformDiagnostic("error", "Unsupported argument", "An argument named \"bucket_name\" is not expected here. Did you mean \"bucket\"?", "main.tf", 7, 7),
            new TerraformDiagnostic("warning", "Argument is deprecated",
                "With the retirement of EC2-Classic the enable_classiclink attribute has been\ndeprecated and will be removed in a future version.", "../modules/net/main.tf", 3, 3),
            new TerraformDiagnostic("error", "Failed to query available provider packages",
                "Could not retrieve the list of available versions for provider hashicorp/aws.", null, 0, 0),
        ], found);
    }

    [Fact]
    public void Parse_BoxedOutputWithColours_SameAsPlain()
    {
        var coloured = BoxedLog.Replace("Error:", "\u001b[31m\u001b[1mError: \u001b[0m\u001b[0m\u001b[1m", StringComparison.Ordinal).Replace("Error: \u001b[0m\u001b[0m\u001b[1m ", "Error: \u001b[0m\u001b[0m\u001b[1m", StringComparison.Ordinal);

        var found = TerraformDiagnostics.Parse(coloured);

        Assert.Equal(
        [
            new TerraformDiagnostic("error", "Invalid count argument",
                "The given \"count\" argument value is unsuitable: must be greater than or\nequal to zero.", "main.tf", 3, 3),
            new TerraformDiagnostic("error", "Module not installed", "This module is not yet installed. Run \"terraform init\".", ".terraform/modules/vpc/main.tf", 1, 1),
        ], found);
    }

    [Fact]
    public void Parse_JsonUiLines_TakesTheRange()
    {
        // Lines as in shared/fixtures/plans-text/tf-1.3-plan-json-ui-stream.jsonl (which has no diagnostic), then two diagnostics.
        var log = string.Join('\n',
            new[]
            {
                """{"@level":"info","@message":"Terraform 1.3.7","@module":"terraform.ui","@timestamp":"2023-01-19T13:28:29.004160-05:00","terraform":"1.3.7","type":"version","ui":"1.0"}""",
                """{"@level":"info","@message":"Plan: 1 to add, 1 to change, 0 to destroy.","@module":"terraform.ui","changes":{"add":1,"change":1,"remove":0,"operation":"plan"},"type":"change_summary"}""",
            }
                .Append("""{"@level":"error","@message":"Error: Unsupported block type","@module":"terraform.ui","@timestamp":"2023-01-19T13:28:29.3-05:00","diagnostic":{"severity":"error","summary":"Unsupported block type","detail":"Blocks of type \"ingres\" are not expected here.","range":{"filename":"sg.tf","start":{"line":12,"column":3,"byte":201},"end":{"line":14,"column":4,"byte":240}},"snippet":{"context":"resource \"aws_security_group\" \"a\"","code":"  ingres {","start_line":12}},"type":"diagnostic"}""")
                .Append("""{"@level":"warn","@message":"Warning: Deprecated","@module":"terraform.ui","diagnostic":{"severity":"warning","summary":"Deprecated","detail":""},"type":"diagnostic"}"""));

        var found = TerraformDiagnostics.Parse(log);

        Assert.Equal(
        [
            new TerraformDiagnostic("error", "Unsupported block type", "Blocks of type \"ingres\" are not expected here.", "sg.tf", 12, 14),
            new TerraformDiagnostic("warning", "Deprecated", null, null, 0, 0),
        ], found);
    }

    [Fact]
    public void Parse_ValidateJsonDocument_ReadsItsDiagnostics()
    {
        const string validate = """
            {
              "format_version": "1.0",
              "valid": false,
              "error_count": 1,
              "warning_count": 0,
              "diagnostics": [
                {
                  "severity": "error",
                  "summary": "Missing required argument",
                  "detail": "The argument \"ami\" is required, but no definition was found.",
                  "range": { "filename": "main.tf", "start": { "line": 4, "column": 30, "byte": 80 }, "end": { "line": 4, "column": 31, "byte": 81 } }
                }
              ]
            }
            """;

        Assert.Equal([new TerraformDiagnostic("error", "Missing required argument", "The argument \"ami\" is required, but no definition was found.", "main.tf", 4, 4)],
            TerraformDiagnostics.Parse(validate));
    }

    [Fact]
    public void Parse_NoDiagnostics_Empty()
    {
        Assert.Empty(TerraformDiagnostics.Parse("Plan: 1 to add, 0 to change, 0 to destroy.\n\nError handling is fine here: nothing failed.\n"));
    }

    [Fact]
    public void Parse_StandInTerraformFailure_PointsAtTheFailingResource()
    {
        using var ws = new SimWorkspace();
        ws.Write("main.tf", "resource \"sim_thing\" \"ok\" {}\n\nresource \"sim_fail\" \"x\" {\n  message = \"quota exceeded\"\n}\n");

        var plan = ws.InitAndPlan();
        var annotations = TerraformDiagnostics.ToAnnotations(TerraformDiagnostics.Parse(plan.Stdout + "\n" + plan.Stderr), "envs/prod");

        Assert.Equal(
            [new CheckRunAnnotation("envs/prod/main.tf", 3, 3, "failure", "quota exceeded", "The sim_fail resource always fails while planning.")],
            annotations);
    }

    [Theory]
    [InlineData("envs/prod", "main.tf", "envs/prod/main.tf")]
    [InlineData("envs/prod", "./main.tf", "envs/prod/main.tf")]
    [InlineData("envs/prod", "../../modules/net/main.tf", "modules/net/main.tf")]
    [InlineData("envs/prod", "..\\..\\modules\\net\\main.tf", "modules/net/main.tf")]
    [InlineData(".", "main.tf", "main.tf")]
    [InlineData(".", "modules/a/../b/x.tf", "modules/b/x.tf")]
    [InlineData("envs/prod", "../../../outside.tf", null)]
    [InlineData(".", "../sibling-repo/main.tf", null)]
    [InlineData("envs/prod", "/home/runner/work/main.tf", null)]
    [InlineData("envs/prod", ".terraform/modules/vpc/main.tf", null)]
    public void ToAnnotations_FilePath_RepoRelativeOrDropped(string project, string file, string? expected)
    {
        var annotations = TerraformDiagnostics.ToAnnotations([new TerraformDiagnostic("error", "Bad", null, file, 2, 2)], project);

        Assert.Equal(expected, annotations.SingleOrDefault()?.Path);
    }

    [Fact]
    public void ToAnnotations_MixedDiagnostics_ErrorsFirstAndOnlyThoseWithALine()
    {
        var annotations = TerraformDiagnostics.ToAnnotations(TerraformDiagnostics.Parse(PlainLog), "envs/prod");

        Assert.Equal(
        [
            new CheckRunAnnotation("envs/prod/main.tf", 7, 7, "failure", "Unsupported argument",
                "An argument named \"bucket_name\" is not expected here. Did you mean \"bucket\"?"),
            new CheckRunAnnotation("envs/modules/net/main.tf", 3, 3, "warning", "Argument is deprecated",
                "With the retirement of EC2-Classic the enable_classiclink attribute has been\ndeprecated and will be removed in a future version."),
        ], annotations);
    }
}
