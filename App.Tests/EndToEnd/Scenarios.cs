namespace Ensemble.Tests.EndToEnd;

/// <summary>Terraform projects and pull requests the end-to-end tests share.</summary>
public static class Scenarios
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    /// <summary>A project for the stand-in terraform: a local backend and one resource, plus anything extra.</summary>
    public static string Project(string name, string extra = "") => $$"""
        terraform {
          backend "local" {
            path = "terraform.tfstate"
          }
        }

        resource "sim_thing" "{{name}}" {
          name = "{{name}}"
        }
        {{extra}}
        """;

    /// <summary>main has three projects; the PR branch changes dev and prod (and the README). Pull request number 7.</summary>
    public static (TestRepository Repo, string Base, string Head) TwoProjectPullRequest(EnsembleTestApp app, string devExtra = "", string prodExtra = "")
    {
        var repo = app.CreateRepository();
        repo.Write("envs/dev/main.tf", Project("dev"))
            .Write("envs/prod/main.tf", Project("prod"))
            .Write("envs/staging/main.tf", Project("staging"))
            .Write("README.md", "# infra\n");
        var @base = repo.Commit("three projects");
        repo.Checkout("feature", create: true);
        repo.Write("envs/dev/main.tf", Project("dev", devExtra + "\nresource \"sim_thing\" \"dev_extra\" {\n  name = \"more\"\n}\n"))
            .Write("envs/prod/variables.tf", "variable \"size\" {\n  default = 3\n}\n" + prodExtra)
            .Write("README.md", "# infra\n\nchanged\n");
        var head = repo.Commit("change dev and prod");
        repo.SetPullRef(7, head);
        return (repo, @base, head);
    }

    public static bool AllCompleted(FakeGitHub github, string headSha, int projectRuns) =>
        github.CheckRuns.Where(c => c.HeadSha == headSha && c.Name.StartsWith("ensemble: ", StringComparison.Ordinal)).Select(c => c.Name).Distinct().Count() == projectRuns
        && github.CheckRuns.Where(c => c.HeadSha == headSha).GroupBy(c => c.Name).All(g => g.Last().Status == "completed")
        && github.Latest("ensemble", headSha) is { Status: "completed" };
}
