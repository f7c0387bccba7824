using System.Text.RegularExpressions;
using Ensemble.Jobs.Discovery;

namespace Ensemble.Jobs.Terraform;

/// <summary>The executable (runner <c>sandbox</c>/<c>process</c>) or image (<c>docker</c>/<c>kubernetes</c>) a run uses.</summary>
/// <param name="Name">The configured key (<c>1.9.8</c>, <c>tofu-1.8.0</c>) or <c>default</c>.</param>
public sealed record TerraformTool(string Name, string Executable);

/// <summary>One piece of version information and where it came from, for messages (<c>envs/prod/.terraform-version</c>).</summary>
public sealed record VersionRequest(string Text, string Source);

/// <summary>What a project says about the version it needs, most specific first (DESIGN.md order).</summary>
/// <param name="Override">From <c>.ensemble.yml</c>: <c>1.9.8</c>, <c>tofu-1.8.0</c>, <c>latest</c> or a constraint.</param>
/// <param name="VersionFile">The project's <c>.terraform-version</c> (tfenv format), else <c>.opentofu-version</c> (tofu- prefixed).</param>
/// <param name="RequiredVersions">Every <c>required_version</c> of the project's root module; all must hold.</param>
public sealed record VersionHints(VersionRequest? Override, VersionRequest? VersionFile, IReadOnlyList<VersionRequest> RequiredVersions)
{
    public static VersionHints None { get; } = new(null, null, []);
}

/// <summary>The tool to run, or why none may run. A refusal is a value to show in the check run, not an exception.</summary>
public sealed record ToolResolution(TerraformTool? Tool, string? Error)
{
    public static ToolResolution Ok(TerraformTool tool) => new(tool, null);

    public static ToolResolution Fail(string error) => new(null, error);
}

/// <summary>
/// Picks the terraform or OpenTofu version for a project and maps it to a configured binary or image
/// (<c>Terraform:Versions</c>). Pure: never runs anything, never falls back to a different version than asked.
/// </summary>
public static partial class TerraformVersionResolver
{
    public const string DefaultImageTemplate = "hashicorp/terraform:{version}";

    /// <summary>A configured version key: <c>1.9.8</c> or <c>terraform-1.9.8</c> (terraform), <c>tofu-1.8.0</c> (OpenTofu).</summary>
    public sealed record VersionKey(bool Tofu, ToolVersion Version)
    {
        public static VersionKey? TryParse(string text)
        {
            text = text.Trim();
            var tofu = false;
            foreach (var prefix in new[] { "opentofu-", "opentofu ", "tofu-", "tofu " })
            {
                if (text.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                {
                    tofu = true;
                    text = text[prefix.Length..];
                    break;
                }
            }

            if (!tofu)
            {
                foreach (var prefix in new[] { "terraform-", "terraform " })
                {
                    if (text.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                    {
                        text = text[prefix.Length..];
                        break;
                    }
                }
            }

            return ToolVersion.TryParse(text) is { } v ? new VersionKey(tofu, v) : null;
        }

        public override string ToString() => Tofu ? $"tofu-{Version}" : Version.ToString();
    }

    /// <param name="hints">What the project asks for.</param>
    /// <param name="configured"><c>Terraform:Versions</c>.</param>
    /// <param name="defaultTool"><c>Terraform:Binary</c> (or the image with no version) used when the project says nothing.</param>
    /// <param name="imageTemplate">For the container runners: an image template with <c>{version}</c> that can serve any terraform version not listed in <paramref name="configured"/>.</param>
    public static ToolResolution Resolve(
        VersionHints hints, IReadOnlyDictionary<string, string> configured, string defaultTool, string? imageTemplate = null)
    {
        var known = new List<(VersionKey Key, string Name, string Tool)>();
        foreach (var (name, tool) in configured)
        {
            if (VersionKey.TryParse(name) is not { } key)
            {
                return ToolResolution.Fail($"Terraform:Versions:{name} is not a version (expected e.g. 1.9.8 or tofu-1.8.0).");
            }

            known.Add((key, name, tool));
        }

        known.Sort((a, b) => b.Key.Version.CompareTo(a.Key.Version));
        var template = imageTemplate is not null && imageTemplate.Contains("{version}", StringComparison.Ordinal) ? imageTemplate : null;
        var list = known.Count == 0 ? "none (add Terraform:Versions:<version>=<path or image>)" : string.Join(", ", known.OrderBy(k => k.Key.Tofu).Select(k => k.Name));

        ToolResolution Exact(VersionKey wanted, VersionRequest request)
        {
            foreach (var k in known)
            {
                if (k.Key == wanted)
                {
                    return ToolResolution.Ok(new TerraformTool(k.Name, k.Tool));
                }
            }

            if (!wanted.Tofu && template is not null)
            {
                return ToolResolution.Ok(new TerraformTool(wanted.ToString(), template.Replace("{version}", wanted.Version.ToString(), StringComparison.Ordinal)));
            }

            var what = wanted.Tofu ? $"OpenTofu {wanted.Version}" : $"terraform {wanted.Version}";
            return ToolResolution.Fail($"{what} is required by {request.Source} but not configured; configured: {list}.");
        }

        ToolResolution Best(VersionConstraint constraint, string source, bool lowest = false)
        {
            var matching = known.Where(k => !k.Key.Tofu && constraint.Allows(k.Key.Version)).ToList();
            if (matching.Count == 0)
            {
                return ToolResolution.Fail($"No configured terraform version satisfies \"{constraint}\" ({source}); configured: {list}.");
            }

            var pick = lowest ? matching[^1] : matching[0];
            return ToolResolution.Ok(new TerraformTool(pick.Name, pick.Tool));
        }

        ToolResolution FromRequired(bool lowest, VersionRequest asker)
        {
            if (hints.RequiredVersions.Count == 0)
            {
                return ToolResolution.Fail($"{asker.Source} asks for \"{asker.Text}\" but the project has no required_version.");
            }

            var combined = string.Join(", ", hints.RequiredVersions.Select(r => r.Text));
            return VersionConstraint.TryParse(combined, out var error) is { } c
                ? Best(c, string.Join(", ", hints.RequiredVersions.Select(r => r.Source).Distinct()), lowest)
                : ToolResolution.Fail($"{error} ({string.Join(", ", hints.RequiredVersions.Select(r => r.Source).Distinct())})");
        }

        if ((hints.Override ?? hints.VersionFile) is { } request)
        {
            var text = request.Text.Trim();
            if (VersionKey.TryParse(text) is { } exact)
            {
                return Exact(exact, request);
            }

            switch (text)
            {
                case "latest":
                    return known.FirstOrDefault(k => !k.Key.Tofu) is { Name: not null } latest
                        ? ToolResolution.Ok(new TerraformTool(latest.Name, latest.Tool))
                        : ToolResolution.Fail($"{request.Source} asks for the latest terraform but none is configured; configured: {list}.");
                case "min-required":
                    return FromRequired(lowest: true, request);
                case "latest-allowed":
                    return FromRequired(lowest: false, request);
            }

            if (text.StartsWith("latest:", StringComparison.Ordinal))
            {
                Regex pattern;
                try
                {
                    pattern = new Regex(text["latest:".Length..], RegexOptions.None, TimeSpan.FromMilliseconds(100));
                }
                catch (ArgumentException e)
                {
                    return ToolResolution.Fail($"{request.Source}: \"{text}\" has an invalid pattern: {e.Message}");
                }

                return known.FirstOrDefault(k => !k.Key.Tofu && pattern.IsMatch(k.Key.Version.ToString())) is { Name: not null } m
                    ? ToolResolution.Ok(new TerraformTool(m.Name, m.Tool))
                    : ToolResolution.Fail($"No configured terraform version matches \"{text}\" ({request.Source}); configured: {list}.");
            }

            return VersionConstraint.TryParse(text, out var error) is { } constraint
                ? Best(constraint, request.Source)
                : ToolResolution.Fail($"{request.Source}: cannot read \"{text}\" as a version: {error}");
        }

        if (hints.RequiredVersions.Count > 0 && known.Count > 0)
        {
            return FromRequired(lowest: false, hints.RequiredVersions[0]);
        }

        // No version information, or selection not configured: terraform itself still enforces required_version.
        var fallback = template?.Replace("{version}", "latest", StringComparison.Ordinal) ?? defaultTool;
        return ToolResolution.Ok(new TerraformTool("default", fallback));
    }

    /// <summary>The <c>required_version</c> strings of the <c>terraform { }</c> blocks in one .tf file's text.</summary>
    public static IReadOnlyList<string> FindRequiredVersions(string hcl) =>
        [.. RequiredVersion().Matches(StripComments(hcl)).Select(m => m.Groups[1].Value)];

    /// <summary>Reads a project's hints from disk: its version files and the required_version of its configuration files (<see cref="RootModuleFiles"/>).</summary>
    /// <param name="projectDirectory">The checked-out project directory.</param>
    /// <param name="projectPath">Repo-relative path, for messages.</param>
    /// <param name="overrideVersion">The <c>.ensemble.yml</c> value, if any.</param>
    public static VersionHints ReadHints(string projectDirectory, string projectPath, string? overrideVersion, string overrideSource = ".ensemble.yml")
    {
        string Rel(string name) => projectPath is "." or "" ? name : $"{projectPath.TrimEnd('/')}/{name}";
        VersionRequest? file = null;
        var tf = Path.Combine(projectDirectory, ".terraform-version");
        var tofu = Path.Combine(projectDirectory, ".opentofu-version");
        if (File.Exists(tf) && FirstLine(File.ReadAllText(tf)) is { } t)
        {
            file = new VersionRequest(t, Rel(".terraform-version"));
        }
        else if (File.Exists(tofu) && FirstLine(File.ReadAllText(tofu)) is { } o)
        {
            file = new VersionRequest(VersionKey.TryParse(o) is { } k ? $"tofu-{k.Version}" : o, Rel(".opentofu-version"));
        }

        var required = new List<VersionRequest>();
        foreach (var name in RootModuleFiles(Directory.EnumerateFiles(projectDirectory).Select(Path.GetFileName).OfType<string>()))
        {
            var text = File.ReadAllText(Path.Combine(projectDirectory, name));
            IEnumerable<string> constraints = ConfigurationFiles.IsJson(name)
                ? ConfigurationFiles.Scan(name, text).RequiredVersion is { } json ? [json] : []
                : FindRequiredVersions(text);
            foreach (var constraint in constraints)
            {
                required.Add(new VersionRequest(constraint, Rel(name)));
            }
        }

        var over = string.IsNullOrWhiteSpace(overrideVersion) ? null : new VersionRequest(overrideVersion.Trim(), overrideSource);
        return new VersionHints(over, file, required);
    }

    /// <summary>
    /// The configuration files of a root module whose <c>required_version</c> counts, sorted: <c>*.tf</c>,
    /// <c>*.tf.json</c>, <c>*.tofu</c>, <c>*.tofu.json</c> — except a <c>x.tf</c> (<c>x.tf.json</c>) next to a
    /// <c>x.tofu</c> (<c>x.tofu.json</c>), which OpenTofu replaces with it (the <c>.tofu</c> files are written for
    /// OpenTofu; Terraform ignores them, so a project that has them is an OpenTofu project).
    /// </summary>
    public static IReadOnlyList<string> RootModuleFiles(IEnumerable<string> fileNames)
    {
        ArgumentNullException.ThrowIfNull(fileNames);
        var names = fileNames.Where(ConfigurationFiles.IsConfiguration).ToHashSet(StringComparer.Ordinal);
        return names
            .Where(n => !(n.EndsWith(".tf", StringComparison.Ordinal) && names.Contains(n[..^3] + ".tofu"))
                && !(n.EndsWith(".tf.json", StringComparison.Ordinal) && names.Contains(n[..^8] + ".tofu.json")))
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    private static string? FirstLine(string text) =>
        text.Split('\n').Select(l => l.Split('#')[0].Trim()).FirstOrDefault(l => l.Length > 0);

    private static string StripComments(string hcl) => Comments().Replace(hcl, "");

    [GeneratedRegex("""(?://|#)[^\n]*|/\*.*?\*/""", RegexOptions.Singleline)]
    private static partial Regex Comments();

    [GeneratedRegex("""\brequired_version\s*=\s*"([^"]*)"\s*""")]
    private static partial Regex RequiredVersion();
}
