namespace Ensemble.Tests.EndToEnd;

/// <summary>
/// State files of the stand-in's <c>local</c> backend in a temporary directory outside every workspace, so a plan's and
/// its apply's workspaces share one state — a remote backend's role in a real project. The sandbox (rightly) does not let
/// a run write there, so tests using this run with <c>Terraform:Runner = process</c>.
/// </summary>
internal sealed class OutsideStates : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("ensemble-states-").FullName;

    /// <summary>Where <paramref name="project"/>'s state lives.</summary>
    public string File(string project) => Path.Combine(_directory, project.Replace('/', '_') + ".tfstate");

    /// <summary>A project's <c>main.tf</c>: the backend pointing at <see cref="File"/>, then <paramref name="body"/>.</summary>
    public string Project(string path, string body) => $$"""
        terraform {
          backend "local" {
            path = "{{File(path)}}"
          }
        }

        {{body}}
        """;

    /// <summary>A <c>sim_thing</c> resource named <paramref name="name"/>.</summary>
    public static string Thing(string name) => $"resource \"sim_thing\" \"{name}\" {{\n  name = \"{name}\"\n}}\n";

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
