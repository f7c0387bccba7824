using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Ensemble.Jobs.Config;

/// <summary>
/// Reads <c>.ensemble.yml</c> through YamlDotNet's node model, checking every key and value itself so an error names
/// its line and key. Unknown keys are errors: a misspelt <c>aprovers</c> must not silently drop a restriction.
/// </summary>
internal static partial class ConfigParser
{
    /// <summary>The keys of each mapping, also what the JSON Schema must describe (a test compares them).</summary>
    internal static readonly string[] TopLevelKeys = ["version", "ignore", "approvers", "apply", "projects"];
    internal static readonly string[] ProjectKeys =
    [
        "path", "dir", "name", "when_modified", "extra_paths", "ignore", "terraform_version", "workspace", "depends_on",
        "autoplan", "approvers", "allow_self_approval",
    ];
    internal static readonly string[] RuleKeys = ["paths", "users", "teams"];
    internal static readonly string[] ApproverSetKeys = ["users", "teams"];

    public static ConfigResult Parse(string? yaml)
    {
        if (string.IsNullOrWhiteSpace(yaml))
        {
            return ConfigResult.Missing;
        }

        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            // The message of a YamlException starts with its own position; the line is ours to state.
            var message = e.InnerException?.Message ?? e.Message;
            var at = message.IndexOf("): ", StringComparison.Ordinal);
            return Failed(new ConfigError((int)e.Start.Line, "", $"not valid YAML: {(at >= 0 ? message[(at + 3)..] : message)}"));
        }

        if (stream.Documents.Count == 0)
        {
            return ConfigResult.Missing;
        }

        if (stream.Documents.Count > 1)
        {
            return Failed(new ConfigError(Line(stream.Documents[1].RootNode), "", "only one YAML document is allowed (remove the second '---')"));
        }

        var root = stream.Documents[0].RootNode;
        if (IsNull(root))
        {
            return ConfigResult.Missing;
        }

        var reader = new Reader();
        var config = reader.ReadRoot(root);
        return reader.Errors.Count == 0 ? new ConfigResult(config, []) : new ConfigResult(null, reader.Errors);
    }

    private static ConfigResult Failed(ConfigError error) => new(null, [error]);

    private static int Line(YamlNode node) => (int)node.Start.Line;

    private static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any, Value: null or "" or "~" or "null" or "Null" or "NULL" };

    private sealed class Reader
    {
        public List<ConfigError> Errors { get; } = [];

        public EnsembleConfig ReadRoot(YamlNode root)
        {
            var config = EnsembleConfig.Default;
            var map = Mapping(root, "", "a mapping of settings (version, projects, approvers, apply, ignore)");
            if (map is null)
            {
                return config;
            }

            var hasVersion = false;
            foreach (var (key, value) in Entries(map, "", TopLevelKeys))
            {
                switch (key)
                {
                    case "version":
                        hasVersion = true;
                        if (value is not YamlScalarNode { Value: "1" })
                        {
                            Error(value, "version", "expected 1, the only version of this file format");
                        }

                        break;
                    case "ignore":
                        config = config with { Ignore = Globs(value, "ignore") };
                        break;
                    case "apply":
                        config = config with { Apply = ApplyModeOf(value) };
                        break;
                    case "approvers":
                        config = config with { Approvers = Rules(value) };
                        break;
                    case "projects":
                        config = config with { Projects = Projects(value) };
                        break;
                }
            }

            if (!hasVersion)
            {
                Errors.Add(new ConfigError(Line(root), "version", "missing; start the file with 'version: 1'"));
            }

            return config;
        }

        private ApplyMode ApplyModeOf(YamlNode value)
        {
            switch (Scalar(value, "apply", "on-merge or after-merge-approval"))
            {
                case "on-merge":
                    return ApplyMode.OnMerge;
                case "after-merge-approval":
                    return ApplyMode.AfterMergeApproval;
                case null:
                    return ApplyMode.OnMerge;
                default:
                    Error(value, "apply", "expected on-merge or after-merge-approval");
                    return ApplyMode.OnMerge;
            }
        }

        private List<ApproverRule> Rules(YamlNode value)
        {
            var rules = new List<ApproverRule>();
            var items = Sequence(value, "approvers", "a list of rules like '- paths: [\"envs/prod/**\"]' with users and/or teams");
            for (var i = 0; i < items.Count; i++)
            {
                var key = $"approvers[{i}]";
                if (Mapping(items[i], key, "a rule with paths and users and/or teams") is not { } map)
                {
                    continue;
                }

                IReadOnlyList<Glob> paths = [];
                IReadOnlyList<string> users = [];
                IReadOnlyList<string> teams = [];
                foreach (var (name, node) in Entries(map, key, RuleKeys))
                {
                    switch (name)
                    {
                        case "paths": paths = Globs(node, $"{key}.paths"); break;
                        case "users": users = Users(node, $"{key}.users"); break;
                        case "teams": teams = Teams(node, $"{key}.teams"); break;
                    }
                }

                if (!map.Children.Keys.Any(k => k is YamlScalarNode { Value: "paths" }))
                {
                    Error(map, $"{key}.paths", "missing; say which project paths the rule covers, e.g. [\"envs/prod/**\"]");
                }

                RequireSomeone(map, key, users, teams);
                rules.Add(new ApproverRule(paths, new ApproverSet(users, teams), Line(map)));
            }

            return rules;
        }

        private List<ProjectConfig> Projects(YamlNode value)
        {
            var projects = new List<ProjectConfig>();
            var seenPaths = new Dictionary<string, int>(StringComparer.Ordinal);
            var seenNames = new Dictionary<string, int>(StringComparer.Ordinal);
            var items = Sequence(value, "projects", "a list of projects like '- path: envs/prod'");
            for (var i = 0; i < items.Count; i++)
            {
                var key = $"projects[{i}]";
                if (Mapping(items[i], key, "a project with a path") is not { } map)
                {
                    continue;
                }

                string? path = null;
                string? pathKey = null;
                var project = new ProjectConfig { Path = "", Line = Line(map) };
                foreach (var (name, node) in Entries(map, key, ProjectKeys))
                {
                    var at = $"{key}.{name}";
                    switch (name)
                    {
                        case "path" or "dir":
                            if (pathKey is not null)
                            {
                                Error(node, at, $"give either path or dir, not both ({pathKey} is already set)");
                                break;
                            }

                            pathKey = name;
                            path = ProjectPath(node, at);
                            break;
                        case "name":
                            var projectName = Scalar(node, at, "a name");
                            if (projectName is not null && !NamePattern().IsMatch(projectName))
                            {
                                Error(node, at, "expected letters, digits, '.', '_', '-' or '/' (at most 100)");
                            }
                            else if (projectName is not null && seenNames.TryGetValue(projectName, out var other))
                            {
                                Error(node, at, $"'{projectName}' is already the name of projects[{other}]; names must be unique");
                            }
                            else if (projectName is not null)
                            {
                                seenNames[projectName] = i;
                                project = project with { Name = projectName };
                            }

                            break;
                        case "when_modified" or "extra_paths":
                            project = project with { WhenModified = [.. project.WhenModified, .. Globs(node, at)] };
                            break;
                        case "ignore":
                            project = project with { Ignore = Globs(node, at) };
                            break;
                        case "terraform_version":
                            var version = Scalar(node, at, "a version like \"1.9.8\" or \"tofu-1.8.0\"");
                            if (version is not null && !VersionPattern().IsMatch(version))
                            {
                                Error(node, at, $"'{version}' is not an exact version like \"1.9.8\" or \"tofu-1.8.0\"");
                            }

                            project = project with { TerraformVersion = version };
                            break;
                        case "workspace":
                            var workspace = Scalar(node, at, "a workspace name");
                            if (workspace is not null && !WorkspacePattern().IsMatch(workspace))
                            {
                                Error(node, at, "expected a workspace name of letters, digits, '.', '_' or '-' (at most 90)");
                            }

                            project = project with { Workspace = workspace };
                            break;
                        case "depends_on":
                            project = project with { DependsOn = ProjectPaths(node, at) };
                            break;
                        case "autoplan":
                            project = project with { Autoplan = Boolean(node, at) ?? true };
                            break;
                        case "approvers":
                            project = project with { Approvers = ApproverSetOf(node, at) };
                            break;
                        case "allow_self_approval":
                            project = project with { AllowSelfApproval = Boolean(node, at) };
                            break;
                    }
                }

                if (pathKey is null)
                {
                    Error(map, $"{key}.path", "missing; every project entry needs the project's directory, e.g. 'path: envs/prod'");
                    continue;
                }

                if (path is null)
                {
                    continue;
                }

                if (seenPaths.TryGetValue(path, out var first))
                {
                    Error(map, $"{key}.{pathKey}", $"'{path}' is already configured by projects[{first}]; one entry per project");
                    continue;
                }

                seenPaths[path] = i;
                if (project.DependsOn.Contains(path, StringComparer.Ordinal))
                {
                    Error(map, $"{key}.depends_on", "a project cannot depend on itself");
                }

                projects.Add(project with { Path = path });
            }

            return projects;
        }

        private ApproverSet? ApproverSetOf(YamlNode value, string key)
        {
            if (Mapping(value, key, "a mapping with users and/or teams") is not { } map)
            {
                return null;
            }

            IReadOnlyList<string> users = [];
            IReadOnlyList<string> teams = [];
            foreach (var (name, node) in Entries(map, key, ApproverSetKeys))
            {
                switch (name)
                {
                    case "users": users = Users(node, $"{key}.users"); break;
                    case "teams": teams = Teams(node, $"{key}.teams"); break;
                }
            }

            RequireSomeone(map, key, users, teams);
            return new ApproverSet(users, teams);
        }

        private void RequireSomeone(YamlMappingNode map, string key, IReadOnlyList<string> users, IReadOnlyList<string> teams)
        {
            var hasList = map.Children.Keys.Any(k => k is YamlScalarNode { Value: "users" or "teams" });
            if (!hasList)
            {
                // An empty list would mean "nobody may approve": more likely a mistake than a wish.
                Error(map, key, "needs users and/or teams; an approver rule with nobody in it would block every approval");
            }
            else if (users.Count == 0 && teams.Count == 0 &&
                     !map.Children.Values.Any(v => v is YamlSequenceNode { Children.Count: > 0 }))
            {
                Error(map, key, "users and teams are both empty; name at least one approver");
            }
        }

        private List<string> Users(YamlNode value, string key) =>
            Strings(value, key, "a list of GitHub logins", UserPattern(), "is not a GitHub login");

        private List<string> Teams(YamlNode value, string key) =>
            Strings(value, key, "a list of teams like \"org/team-slug\"", TeamPattern(), "is not a team like \"org/team-slug\"");

        private List<string> ProjectPaths(YamlNode value, string key)
        {
            var paths = new List<string>();
            foreach (var item in Sequence(value, key, "a list of project paths"))
            {
                if (item is YamlScalarNode && ProjectPath(item, key) is { } path)
                {
                    paths.Add(path);
                }
                else if (item is not YamlScalarNode)
                {
                    Error(item, key, "expected a list of project paths");
                }
            }

            return paths;
        }

        private string? ProjectPath(YamlNode value, string key)
        {
            var text = Scalar(value, key, "a project path like envs/prod");
            if (text is null)
            {
                return null;
            }

            // Forgiving about how a directory is written ("./envs/prod/"), strict about where it points.
            var path = text.Trim();
            while (path.StartsWith("./", StringComparison.Ordinal))
            {
                path = path[2..];
            }

            path = path.TrimEnd('/');
            if (path.Length == 0)
            {
                path = ".";
            }

            if (path.StartsWith('/') || path.Contains('\\', StringComparison.Ordinal) || path.Contains("//", StringComparison.Ordinal) ||
                (path != "." && path.Split('/').Any(s => s is "." or "..")) || path.IndexOfAny(['*', '?', '[', '{']) >= 0)
            {
                Error(value, key, $"'{text}' is not a project directory relative to the repository root, like envs/prod ('.' for the root)");
                return null;
            }

            return path;
        }

        private List<Glob> Globs(YamlNode value, string key)
        {
            var globs = new List<Glob>();
            foreach (var item in Sequence(value, key, "a list of globs like \"docs/**\""))
            {
                if (item is not YamlScalarNode scalar || IsNull(item))
                {
                    Error(item, key, "expected a list of globs like \"docs/**\"");
                }
                else if (Glob.TryParse(scalar.Value!, out var glob, out var error))
                {
                    globs.Add(glob!);
                }
                else
                {
                    Error(item, key, $"invalid glob '{scalar.Value}': {error}");
                }
            }

            return globs;
        }

        private List<string> Strings(YamlNode value, string key, string expected, Regex pattern, string notMatching)
        {
            var strings = new List<string>();
            foreach (var item in Sequence(value, key, expected))
            {
                if (item is not YamlScalarNode { Value: { } text } || IsNull(item))
                {
                    Error(item, key, $"expected {expected}");
                }
                else if (!pattern.IsMatch(text))
                {
                    Error(item, key, $"'{text}' {notMatching}");
                }
                else if (!strings.Contains(text, StringComparer.OrdinalIgnoreCase))
                {
                    strings.Add(text);
                }
            }

            return strings;
        }

        private bool? Boolean(YamlNode value, string key)
        {
            switch (value)
            {
                case YamlScalarNode { Style: ScalarStyle.Plain, Value: "true" or "True" or "TRUE" }:
                    return true;
                case YamlScalarNode { Style: ScalarStyle.Plain, Value: "false" or "False" or "FALSE" }:
                    return false;
                default:
                    // "yes"/"no" and quoted "false" are YAML 1.1 habits that parsers disagree on; accept only one spelling.
                    Error(value, key, "expected true or false");
                    return null;
            }
        }

        private string? Scalar(YamlNode value, string key, string expected)
        {
            if (value is YamlScalarNode { Value: { Length: > 0 } text } && !IsNull(value))
            {
                return text;
            }

            Error(value, key, $"expected {expected}");
            return null;
        }

        private IReadOnlyList<YamlNode> Sequence(YamlNode value, string key, string expected)
        {
            if (value is YamlSequenceNode sequence)
            {
                return [.. sequence.Children];
            }

            Error(value, key, $"expected {expected}");
            return [];
        }

        private YamlMappingNode? Mapping(YamlNode value, string key, string expected)
        {
            if (value is YamlMappingNode map)
            {
                return map;
            }

            Error(value, key, $"expected {expected}");
            return null;
        }

        /// <summary>The mapping's entries with a known key, reporting unknown, non-text and repeated keys.</summary>
        private IEnumerable<(string Key, YamlNode Value)> Entries(YamlMappingNode map, string parent, string[] known)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (keyNode, value) in map.Children)
            {
                var name = (keyNode as YamlScalarNode)?.Value ?? "";
                var at = parent.Length == 0 ? name : $"{parent}.{name}";
                if (keyNode is not YamlScalarNode || !known.Contains(name, StringComparer.Ordinal))
                {
                    var hint = Suggest(name, known);
                    Error(keyNode, at, $"unknown key{(hint is null ? "" : $" (did you mean '{hint}'?)")}; expected one of {string.Join(", ", known)}");
                    continue;
                }

                if (!seen.Add(name))
                {
                    Error(keyNode, at, "appears twice");
                    continue;
                }

                yield return (name, value);
            }
        }

        private void Error(YamlNode node, string key, string message) => Errors.Add(new ConfigError(Line(node), key, message));

        private static string? Suggest(string name, string[] known) =>
            known.Select(k => (Key: k, Distance: Distance(name, k))).Where(p => p.Distance <= 2).OrderBy(p => p.Distance).Select(p => p.Key).FirstOrDefault();

        private static int Distance(string a, string b)
        {
            var row = Enumerable.Range(0, b.Length + 1).ToArray();
            for (var i = 1; i <= a.Length; i++)
            {
                var previous = row[0];
                row[0] = i;
                for (var j = 1; j <= b.Length; j++)
                {
                    var current = row[j];
                    row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), previous + (a[i - 1] == b[j - 1] ? 0 : 1));
                    previous = current;
                }
            }

            return row[b.Length];
        }
    }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9-]{0,38}(\[bot\])?$")]
    internal static partial Regex UserPattern();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]
    internal static partial Regex TeamPattern();

    [GeneratedRegex(@"^(tofu-)?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$")]
    internal static partial Regex VersionPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_.-]{1,90}$")]
    internal static partial Regex WorkspacePattern();

    [GeneratedRegex(@"^[A-Za-z0-9_./-]{1,100}$")]
    internal static partial Regex NamePattern();
}
