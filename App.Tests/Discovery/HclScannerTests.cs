using Ensemble.Jobs.Discovery;

namespace Ensemble.Tests.Discovery;

public class HclScannerTests
{
    // Text that must yield no backend: the word appears only where HCL says it is not structure.
    public static TheoryData<string, string> NotABackend => new()
    {
        { "hash comment", "terraform {\n  # backend \"s3\" {}\n}\n" },
        { "slash comment", "terraform {\n  // backend \"s3\" {}\n}\n" },
        { "block comment", "terraform {\n  /* backend \"s3\" {\n  } */\n}\n" },
        { "block comment around terraform", "/*\nterraform {\n  backend \"s3\" {}\n}\n*/\n" },
        { "string", "locals {\n  x = \"terraform { backend \\\"s3\\\" {} }\"\n}\n" },
        { "heredoc", "locals {\n  x = <<EOF\nterraform {\n  backend \"s3\" {}\n}\nEOF\n}\n" },
        { "indented heredoc", "locals {\n  x = <<-EOT\n    terraform {\n      backend \"s3\" {}\n    }\n    EOT\n}\n" },
        { "other block", "resource \"x\" \"y\" {\n  backend \"s3\" {}\n}\n" },
        { "nested deeper in terraform", "terraform {\n  required_providers {\n    backend \"s3\" {}\n  }\n}\n" },
        { "attribute named backend", "terraform {\n  backend = \"s3\"\n}\n" },
        { "module named terraform", "module \"terraform\" {\n  source = \"./x\"\n  backend \"s3\" {}\n}\n" },
        { "interpolation hiding a brace", "locals {\n  x = \"${ \"}\" }\"\n}\nresource \"a\" \"b\" {\n  backend \"s3\" {}\n}\n" },
    };

    [Theory]
    [MemberData(nameof(NotABackend))]
    public void Scan_BackendWordOutsideTerraformBlock_IsNotABackend(string why, string text)
    {
        var facts = HclScanner.Scan(text);

        Assert.True(facts.Backend is null, $"{why}: found {facts.Backend}");
        // No problems either: error recovery skipping a line must not be what hides the word.
        Assert.True(facts.Problems.Count == 0, $"{why}: {string.Join("; ", facts.Problems)}");
    }

    public static TheoryData<string, string, string, int> Backends => new()
    {
        { "s3", "terraform {\n  backend \"s3\" {\n    bucket = \"b\"\n  }\n}\n", "s3", 2 },
        { "one line", "terraform { backend \"local\" { path = \"x.tfstate\" } }", "local", 1 },
        { "cloud", "terraform {\n  cloud {\n    organization = \"acme\"\n    workspaces { name = \"w\" }\n  }\n}\n", "cloud", 2 },
        { "CRLF", "terraform {\r\n  required_version = \">= 1.5\"\r\n  backend \"gcs\" {\r\n    bucket = \"b\"\r\n  }\r\n}\r\n", "gcs", 3 },
        { "BOM", "\uFEFFterraform {\n  backend \"azurerm\" {}\n}\n", "azurerm", 2 },
        { "after heredoc with braces and quotes", "locals {\n  p = <<EOF\n{ \"a\": \"}\" }\n}}}\nEOF\n}\nterraform {\n  backend \"s3\" {}\n}\n", "s3", 8 },
        { "after interpolation with nested string and braces", "locals {\n  x = \"${jsonencode({ a = \"}\" })}\"\n}\nterraform {\n  backend \"http\" {}\n}\n", "http", 5 },
        { "CRLF heredoc", "locals {\r\n  x = <<-EOF\r\n    }\r\n    EOF\r\n}\r\nterraform {\r\n  backend \"s3\" {}\r\n}\r\n", "s3", 7 },
        { "escaped quote and dollar", "locals {\n  x = \"\\\" $${ { \"\n}\nterraform {\n  backend \"s3\" {}\n}\n", "s3", 5 },
        { "unquoted label", "terraform {\n  backend s3 {}\n}\n", "s3", 2 },
        { "after comment with quote", "# it's \"quoted\n/* { */\nterraform {\n  backend \"consul\" {}\n}\n", "consul", 4 },
    };

    [Theory]
    [MemberData(nameof(Backends))]
    public void Scan_TopLevelBackend_ReportsTypeAndLine(string why, string text, string type, int line)
    {
        var facts = HclScanner.Scan(text);

        Assert.Equal(new BackendBlock(type, line), facts.Backend);
        Assert.True(facts.Problems.Count == 0, $"{why}: {string.Join("; ", facts.Problems)}");
    }

    public static TheoryData<string, bool> ModuleSources => new()
    {
        { "./modules/net", true },
        { "../../modules/base_env", true },
        { "../modules//net", true },
        { "./", true },
        { "terraform-aws-modules/vpc/aws", false },
        { "git::https://example.com/vpc.git//modules/sub?ref=v1.2.0", false },
        { "github.com/hashicorp/example", false },
        { "app.terraform.io/acme/net/aws", false },
        { "s3::https://s3-eu-west-1.amazonaws.com/bucket/vpc.zip", false },
    };

    [Theory]
    [MemberData(nameof(ModuleSources))]
    public void Scan_ModuleSource_ClassifiesLocalPaths(string source, bool isLocal)
    {
        var facts = HclScanner.Scan($"module \"m\" {{\n  source  = \"{source}\"\n  version = \"1.0\"\n}}\n");

        Assert.Equal([new ModuleCall("m", source, isLocal, 1)], facts.Modules);
        Assert.Empty(facts.Problems);
    }

    [Fact]
    public void Scan_SeveralModulesWithNestedBlocks_ReportsEachCall()
    {
        const string text = """
            module "app" {
              source = "./modules/app"
              settings = {
                nested = { source = "not-a-module-source" }
              }
              dynamic "x" {
                for_each = [1]
                content { source = "ignored" }
              }
            }

            module "vpc" {
              source  = "terraform-aws-modules/vpc/aws"
              version = "~> 5.0"
            }
            """;

        var facts = HclScanner.Scan(text);

        Assert.Equal(
            [new ModuleCall("app", "./modules/app", true, 1), new ModuleCall("vpc", "terraform-aws-modules/vpc/aws", false, 12)],
            facts.Modules);
        Assert.Empty(facts.Problems);
    }

    [Fact]
    public void Scan_RequiredVersion_IsRead()
    {
        var facts = HclScanner.Scan("terraform {\n  required_version = \">= 1.5.0, < 2.0.0\"\n  required_providers {\n    aws = { source = \"hashicorp/aws\" }\n  }\n}\n");

        Assert.Equal(">= 1.5.0, < 2.0.0", facts.RequiredVersion);
        Assert.Null(facts.Backend);
    }

    [Fact]
    public void Scan_FileFunctions_RecordPlainRelativeReads()
    {
        const string text = """
            locals {
              a = file("./policy.json")
              b = templatefile("${path.module}/templates/user_data.tpl", { name = "x" })
              c = base64encode(filebase64("${path.root}/certs/ca.pem"))
              d = file("${path.module}/../shared/${var.name}.json")
              e = file(var.path)
              f = file("/etc/hosts")
              g = jsonencode({ x = filemd5("${path.module}/files/x.zip") })
              h = "${md5(file("${path.module}/nginx/index.html"))}-${a.file("not/a/call")}"
            }
            """;

        var facts = HclScanner.Scan(text);

        Assert.Equal(
            [
                new FileRead("./policy.json", ReadBase.ProjectDirectory, 2),
                new FileRead("templates/user_data.tpl", ReadBase.ModuleDirectory, 3),
                new FileRead("certs/ca.pem", ReadBase.ProjectDirectory, 4),
                new FileRead("files/x.zip", ReadBase.ModuleDirectory, 8),
                new FileRead("nginx/index.html", ReadBase.ModuleDirectory, 9),
            ],
            facts.ReadFiles);
        Assert.Empty(facts.Problems);
    }

    public static TheoryData<string, string, int, string> Malformed => new()
    {
        { "unterminated string", "locals {\n  a = \"abc\n}\n", 2, "unterminated string" },
        { "unterminated heredoc", "locals {\n  a = <<EOF\nnever closed\n}\n", 2, "unterminated heredoc" },
        { "unterminated block", "terraform {\n  backend \"s3\" {\n", 2, "unterminated block" },
        { "unterminated comment", "/* open\nterraform {}\n", 1, "unterminated /* comment" },
        { "unterminated interpolation", "locals {\n  a = \"${foo(\n}\n", 2, "unterminated" },
        { "stray closing brace", "}\nterraform {}\n", 1, "unexpected '}'" },
        { "garbage", "= = =\n", 1, "unexpected '='" },
        { "block without brace", "resource \"a\" \"b\"\n", 1, "expected '=' or '{'" },
        { "module without source", "module \"m\" {\n  version = \"1\"\n}\n", 1, "has no source" },
        { "computed module source", "module \"m\" {\n  source = \"./${var.x}\"\n}\n", 2, "literal string" },
        { "stray closing paren", "locals {\n  a = 1)\n}\n", 2, "unexpected ')'" },
        { "unclosed paren", "locals {\n  a = foo(1\n}\n", 2, "unclosed bracket in the value of 'a'" },
        { "two backends", "terraform {\n  backend \"s3\" {}\n  cloud {}\n}\n", 3, "duplicate backend" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Scan_MalformedInput_ReportsProblemWithLine(string why, string text, int line, string message)
    {
        var facts = HclScanner.Scan(text);

        Assert.True(
            facts.Problems.Any(p => p.Line == line && p.Message.Contains(message, StringComparison.Ordinal)),
            $"{why}: {string.Join("; ", facts.Problems)}");
    }

    [Fact]
    public void Scan_UnterminatedStringInOneAttribute_StillFindsBackendAfterIt()
    {
        var facts = HclScanner.Scan("locals {\n  a = \"abc\n}\nterraform {\n  backend \"s3\" {}\n}\n");

        Assert.Equal(new BackendBlock("s3", 5), facts.Backend);
        Assert.Single(facts.Problems);
    }

    [Fact]
    public void Scan_StrayClosingParen_DoesNotSwallowFollowingBlocks()
    {
        var facts = HclScanner.Scan("locals {\n  a = 1)\n}\nterraform {\n  backend \"s3\" {}\n}\n");

        Assert.Equal(new BackendBlock("s3", 5), facts.Backend);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\uFEFF")]
    [InlineData("\"")]
    [InlineData("<<")]
    [InlineData("<<EOF")]
    [InlineData("${{{")]
    [InlineData("terraform { backend")]
    [InlineData("module \"m\" { source = ")]
    [InlineData("\\")]
    [InlineData("x = \"\\")]
    public void Scan_TruncatedInput_NeverThrows(string text)
    {
        var facts = HclScanner.Scan(text);

        Assert.Null(facts.Backend);
    }

    [Fact]
    public void Scan_DeeplyNestedInput_ReportsProblemInsteadOfOverflowing()
    {
        var blocks = string.Concat(Enumerable.Repeat("a {\n", 5000));
        var interpolations = "x = \"" + string.Concat(Enumerable.Repeat("${\"", 5000));

        Assert.Contains(HclScanner.Scan(blocks).Problems, p => p.Message.Contains("nested too deeply", StringComparison.Ordinal));
        Assert.Contains(HclScanner.Scan(interpolations).Problems, p => p.Message.Contains("nested too deeply", StringComparison.Ordinal));
    }

    // From terraform-google-modules/terraform-example-foundation (Apache-2.0), 3-networks-dual-svpc/envs/production/backend.tf
    // and main.tf (locals trimmed): a licence block comment, a gcs backend, a local module two levels up.
    private const string ExampleFoundationBackend = """
        /**
         * Copyright 2021 Google LLC
         *
         * Licensed under the Apache License, Version 2.0 (the "License");
         */

        terraform {
          backend "gcs" {
            bucket = "UPDATE_ME"
            prefix = "terraform/networks/production"
          }
        }
        """;

    private const string ExampleFoundationMain = """
        locals {
          env              = "production"
          environment_code = substr(local.env, 0, 1)
          /*
           * Base network ranges
           */
          base_subnet_secondary_ranges = {
            (local.default_region1) = [
              {
                range_name    = "rn-${local.environment_code}-shared-base-${local.default_region1}-gke-pod"
                ip_cidr_range = "100.64.192.0/21"
              },
            ]
          }
        }

        module "base_env" {
          source = "../../modules/base_env"

          env                         = local.env
          members                     = ["serviceAccount:${var.terraform_service_account}"]
          enable_partner_interconnect = false
        }
        """;

    // From ministryofjustice/modernisation-platform-environments (MIT),
    // terraform/environments/analytical-platform-common/platform_backend.tf: comments mention `backend`,
    // and a trailing comment holds "${workspace}".
    private const string ModernisationPlatformBackend = """
        # Backend
        terraform {
          # `backend` blocks do not support variables, so the following are hard-coded here:
          # - S3 bucket name, which is created in modernisation-platform-account/s3.tf
          backend "s3" {
            acl                  = "bucket-owner-full-control"
            bucket               = "modernisation-platform-terraform-state"
            encrypt              = true
            key                  = "terraform.tfstate"
            workspace_key_prefix = "environments/members/analytical-platform-common" # This will store the object as environments/members/analytical-platform-common/${workspace}/terraform.tfstate
          }
        }
        """;

    [Fact]
    public void Scan_RealWorldFiles_FindBackendAndModule()
    {
        var backend = HclScanner.Scan(ExampleFoundationBackend);
        var main = HclScanner.Scan(ExampleFoundationMain);
        var moj = HclScanner.Scan(ModernisationPlatformBackend);

        Assert.Equal(new BackendBlock("gcs", 8), backend.Backend);
        Assert.Null(main.Backend);
        Assert.Equal([new ModuleCall("base_env", "../../modules/base_env", true, 17)], main.Modules);
        Assert.Equal(new BackendBlock("s3", 5), moj.Backend);
        Assert.Empty(backend.Problems);
        Assert.Empty(main.Problems);
        Assert.Empty(moj.Problems);
    }
}
