using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ensemble.Jobs.Config;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Ensemble.Tests.Config;

/// <summary>
/// schema/ensemble.schema.json and docs/configuration.md against the parser: every documented example must pass
/// both, and the schema must describe exactly the parser's keys, so editors never suggest what the App rejects.
/// </summary>
public partial class ConfigSchemaTests
{
    private static readonly string RepoRoot = FindRepoRoot();
    private static readonly JsonNode Schema = JsonNode.Parse(File.ReadAllText(Path.Combine(RepoRoot, "schema", "ensemble.schema.json")))!;

    public static TheoryData<int, string> DocumentedExamples()
    {
        var markdown = File.ReadAllText(Path.Combine(RepoRoot, "docs", "configuration.md"));
        var data = new TheoryData<int, string>();
        var index = 0;
        foreach (Match match in YamlBlock().Matches(markdown))
        {
            data.Add(index++, match.Groups[1].Value);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(DocumentedExamples))]
    public void DocumentedExample_ValidatesAgainstSchemaAndParses(int index, string yaml)
    {
        var schemaErrors = SchemaValidator.Validate(Schema, ToJson(yaml), Schema);
        var parsed = EnsembleConfig.Parse(yaml);

        Assert.True(schemaErrors.Count == 0, $"example {index} breaks the schema:\n" + string.Join("\n", schemaErrors));
        Assert.True(parsed.IsValid, $"example {index} does not parse:\n" + string.Join("\n", parsed.Errors));
    }

    [Fact]
    public void DocumentedExamples_ThereAreSeveral() => Assert.True(DocumentedExamples().Count >= 4);

    [Theory]
    [InlineData("version: 1\naprovers: []\n", "aprovers")]
    [InlineData("version: 1\nprojects:\n  - name: x\n", "oneOf")]
    [InlineData("version: 1\nprojects:\n  - path: a\n    autoplan: \"no\"\n", "boolean")]
    [InlineData("version: 1\napply: later\n", "enum")]
    [InlineData("version: 1\napprovers:\n  - paths: [a]\n", "anyOf")]
    [InlineData("version: 1\nprojects:\n  - path: a\n    terraform_version: \"~> 1.5\"\n", "pattern")]
    public void Schema_FileTheParserRejects_AlsoRejected(string yaml, string expected)
    {
        Assert.False(EnsembleConfig.Parse(yaml).IsValid);

        var errors = SchemaValidator.Validate(Schema, ToJson(yaml), Schema);

        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Schema_DescribesExactlyTheParsersKeys()
    {
        var defs = Schema["$defs"]!;
        Assert.Equal(Sorted(ConfigParser.TopLevelKeys), Keys(Schema["properties"]!));
        Assert.Equal(Sorted(ConfigParser.ProjectKeys), Keys(defs["project"]!["properties"]!));
        Assert.Equal(Sorted(ConfigParser.RuleKeys), Keys(Schema["properties"]!["approvers"]!["items"]!["properties"]!));
        Assert.Equal(Sorted(ConfigParser.ApproverSetKeys), Keys(defs["project"]!["properties"]!["approvers"]!["properties"]!));
    }

    [Fact]
    public void Schema_EveryKeyHasADescription()
    {
        var missing = new List<string>();
        void Walk(JsonNode? node, string where)
        {
            if (node is not JsonObject obj)
            {
                return;
            }

            if (obj["properties"] is JsonObject properties)
            {
                foreach (var (key, value) in properties)
                {
                    if (value?["description"] is null)
                    {
                        missing.Add($"{where}.{key}");
                    }
                }
            }

            foreach (var (key, value) in obj)
            {
                Walk(value, $"{where}.{key}");
            }
        }

        Walk(Schema, "$");

        Assert.Empty(missing);
    }

    private static List<string> Sorted(IEnumerable<string> keys) => keys.Order(StringComparer.Ordinal).ToList();

    private static List<string> Keys(JsonNode node) => node.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal).ToList();

    /// <summary>YAML to JSON as a YAML 1.2 editor sees it: plain true/false/numbers/null typed, quoted text a string.</summary>
    private static JsonNode? ToJson(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return Convert(stream.Documents[0].RootNode);

        static JsonNode? Convert(YamlNode node) => node switch
        {
            YamlMappingNode map => new JsonObject(map.Children.Select(p =>
                KeyValuePair.Create(((YamlScalarNode)p.Key).Value!, Convert(p.Value)))),
            YamlSequenceNode sequence => new JsonArray([.. sequence.Children.Select(Convert)]),
            YamlScalarNode { Style: ScalarStyle.Plain } scalar => scalar.Value switch
            {
                "true" => JsonValue.Create(true),
                "false" => JsonValue.Create(false),
                null or "" or "~" or "null" => null,
                var text when long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) => JsonValue.Create(number),
                var text => JsonValue.Create(text),
            },
            YamlScalarNode scalar => JsonValue.Create(scalar.Value),
            _ => throw new InvalidOperationException($"unexpected YAML node {node.NodeType}"),
        };
    }

    private static string FindRepoRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Ensemble.GitHubApp.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Ensemble.GitHubApp.sln not found above the test binaries.");
    }

    [GeneratedRegex("```yaml\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex YamlBlock();

    /// <summary>
    /// The JSON Schema 2020-12 subset the schema uses: $ref to #/$defs, type, const, enum, properties,
    /// additionalProperties: false, required, items, minItems, minLength, pattern, oneOf, anyOf.
    /// </summary>
    private static class SchemaValidator
    {
        public static List<string> Validate(JsonNode schema, JsonNode? value, JsonNode root, string at = "$")
        {
            var errors = new List<string>();
            if (schema["$ref"]?.GetValue<string>() is { } reference)
            {
                var target = reference.TrimStart('#').Split('/', StringSplitOptions.RemoveEmptyEntries).Aggregate(root, (n, k) => n[k]!);
                errors.AddRange(Validate(target, value, root, at));
            }

            if (schema["type"]?.GetValue<string>() is { } type && !HasType(value, type))
            {
                errors.Add($"{at}: expected type {type}");
                return errors;
            }

            if (schema["const"] is { } constant && !JsonNode.DeepEquals(constant, value))
            {
                errors.Add($"{at}: expected const {constant.ToJsonString()}");
            }

            if (schema["enum"] is JsonArray options && !options.Any(o => JsonNode.DeepEquals(o, value)))
            {
                errors.Add($"{at}: not one of enum {options.ToJsonString()}");
            }

            if (value is JsonObject obj)
            {
                foreach (var required in schema["required"]?.AsArray() ?? [])
                {
                    if (!obj.ContainsKey(required!.GetValue<string>()))
                    {
                        errors.Add($"{at}: missing required {required}");
                    }
                }

                var properties = schema["properties"] as JsonObject;
                foreach (var (key, child) in obj)
                {
                    if (properties?[key] is { } propertySchema)
                    {
                        errors.AddRange(Validate(propertySchema, child, root, $"{at}.{key}"));
                    }
                    else if (schema["additionalProperties"]?.GetValueKind() == JsonValueKind.False)
                    {
                        errors.Add($"{at}.{key}: additional property not allowed");
                    }
                }
            }

            if (value is JsonArray array)
            {
                if (schema["minItems"]?.GetValue<int>() is { } minItems && array.Count < minItems)
                {
                    errors.Add($"{at}: fewer than minItems {minItems}");
                }

                if (schema["items"] is { } items)
                {
                    for (var i = 0; i < array.Count; i++)
                    {
                        errors.AddRange(Validate(items, array[i], root, $"{at}[{i}]"));
                    }
                }
            }

            if (value is JsonValue text && text.GetValueKind() == JsonValueKind.String)
            {
                var s = text.GetValue<string>();
                if (schema["minLength"]?.GetValue<int>() is { } minLength && s.Length < minLength)
                {
                    errors.Add($"{at}: shorter than minLength {minLength}");
                }

                if (schema["pattern"]?.GetValue<string>() is { } pattern && !Regex.IsMatch(s, pattern))
                {
                    errors.Add($"{at}: '{s}' does not match pattern {pattern}");
                }
            }

            if (schema["oneOf"] is JsonArray oneOf && oneOf.Count(s => Validate(s!, value, root, at).Count == 0) != 1)
            {
                errors.Add($"{at}: matches not exactly one of oneOf");
            }

            if (schema["anyOf"] is JsonArray anyOf && !anyOf.Any(s => Validate(s!, value, root, at).Count == 0))
            {
                errors.Add($"{at}: matches none of anyOf");
            }

            return errors;
        }

        private static bool HasType(JsonNode? value, string type) => (type, value?.GetValueKind()) switch
        {
            ("object", JsonValueKind.Object) => true,
            ("array", JsonValueKind.Array) => true,
            ("string", JsonValueKind.String) => true,
            ("boolean", JsonValueKind.True or JsonValueKind.False) => true,
            ("integer" or "number", JsonValueKind.Number) => true,
            ("null", null or JsonValueKind.Null) => true,
            _ => false,
        };
    }
}
