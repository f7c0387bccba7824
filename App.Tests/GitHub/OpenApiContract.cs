using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using WireMock.Server;

namespace Ensemble.Tests.GitHub;

/// <summary>
/// Checks requests against GitHub's own REST description (a subset of api.github.com.json in
/// Fixtures/github-openapi): the path must match an operation's template, path parameters their schemas, and the
/// JSON body the operation's requestBody schema. Covers the JSON Schema that description uses: $ref into
/// #/components, type, nullable, enum, required, properties, additionalProperties (only when stated), items,
/// min/maxItems, min/maxLength, date-time format, allOf/anyOf/oneOf.
/// </summary>
public static partial class OpenApiContract
{
    private static readonly string[] Methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

    private static readonly Lazy<JsonDocument> Spec = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "github-openapi", "subset.json"))));

    /// <summary>Fails the test when the request does not match a described operation or breaks its schemas.</summary>
    public static void AssertValid(string method, string path, string? body)
    {
        var errors = Validate(method, path, body);
        Assert.True(errors.Count == 0, $"{method.ToUpperInvariant()} {path} breaks GitHub's API description:\n  " + string.Join("\n  ", errors));
    }

    /// <summary>
    /// Checks every request the double received whose operation is described; requests to undescribed operations are
    /// reported through <paramref name="undescribed"/> (and in a failure message) but do not fail.
    /// </summary>
    public static void AssertAllValid(WireMockServer server, Action<string>? undescribed = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        var failures = new List<string>();
        var skipped = new List<string>();
        foreach (var entry in server.LogEntries)
        {
            var request = entry.RequestMessage;
            var label = $"{request.Method} {request.AbsolutePath}";
            if (FindOperation(request.Method, request.AbsolutePath) is null)
            {
                skipped.Add(label);
                undescribed?.Invoke($"not described in the API subset: {label}");
                continue;
            }

            var body = request.Body ?? (request.BodyAsBytes is { Length: > 0 } bytes ? Encoding.UTF8.GetString(bytes) : null);
            failures.AddRange(Validate(request.Method, request.AbsolutePath, body).Select(e => $"{label}: {e}"));
        }

        Assert.True(failures.Count == 0,
            "Requests break GitHub's API description:\n  " + string.Join("\n  ", failures)
            + (skipped.Count > 0 ? "\nNot described (not checked):\n  " + string.Join("\n  ", skipped) : ""));
    }

    /// <summary>Every way the request breaks the description; empty when it conforms.</summary>
    public static IReadOnlyList<string> Validate(string method, string path, string? body)
    {
        var errors = new List<string>();
        var match = FindOperation(method, path);
        if (match is null)
        {
            errors.Add($"no operation {method.ToUpperInvariant()} matches the path {path}");
            return errors;
        }

        var (template, operation, pathValues) = match.Value;
        ValidatePathParameters(operation, pathValues, errors);

        var hasBody = !string.IsNullOrWhiteSpace(body);
        if (!operation.TryGetProperty("requestBody", out var requestBody))
        {
            if (hasBody)
            {
                errors.Add($"{template} takes no request body, got one");
            }

            return errors;
        }

        requestBody = Resolve(requestBody);
        if (!hasBody)
        {
            if (requestBody.TryGetProperty("required", out var required) && required.ValueKind == JsonValueKind.True)
            {
                errors.Add("request body is required");
            }

            return errors;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body!);
        }
        catch (JsonException e)
        {
            errors.Add($"body is not JSON: {e.Message}");
            return errors;
        }

        using (document)
        {
            var schema = requestBody.GetProperty("content").GetProperty("application/json").GetProperty("schema");
            ValidateValue(schema, document.RootElement, "$", errors);
        }

        return errors;
    }

    private static (string Template, JsonElement Operation, Dictionary<string, string> PathValues)? FindOperation(string method, string path)
    {
        var verb = method.ToLowerInvariant();
        var segments = path.Split('?')[0].Trim('/').Split('/');
        (string, JsonElement, Dictionary<string, string>)? best = null;
        var bestLiterals = -1;
        foreach (var item in Spec.Value.RootElement.GetProperty("paths").EnumerateObject())
        {
            if (!item.Value.TryGetProperty(verb, out var operation))
            {
                continue;
            }

            var template = item.Name.Trim('/').Split('/');
            if (template.Length != segments.Length)
            {
                continue;
            }

            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            var literals = 0;
            var matches = true;
            for (var i = 0; i < template.Length && matches; i++)
            {
                if (template[i].StartsWith('{') && template[i].EndsWith('}'))
                {
                    matches = segments[i].Length > 0;
                    values[template[i][1..^1]] = Uri.UnescapeDataString(segments[i]);
                }
                else
                {
                    matches = string.Equals(template[i], segments[i], StringComparison.Ordinal);
                    literals++;
                }
            }

            // The most specific template wins, as a router would pick it.
            if (matches && literals > bestLiterals)
            {
                best = (item.Name, operation, values);
                bestLiterals = literals;
            }
        }

        return best;
    }

    private static void ValidatePathParameters(JsonElement operation, Dictionary<string, string> values, List<string> errors)
    {
        if (!operation.TryGetProperty("parameters", out var parameters))
        {
            return;
        }

        foreach (var reference in parameters.EnumerateArray())
        {
            var parameter = Resolve(reference);
            if (parameter.GetProperty("in").GetString() != "path")
            {
                continue;
            }

            var name = parameter.GetProperty("name").GetString()!;
            if (!values.TryGetValue(name, out var value))
            {
                errors.Add($"path parameter {name} is missing");
                continue;
            }

            var type = parameter.TryGetProperty("schema", out var schema) && Resolve(schema).TryGetProperty("type", out var t) ? t.GetString() : null;
            if (type == "integer" && !long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
            {
                errors.Add($"path parameter {name} must be an integer, got '{value}'");
            }
        }
    }

    private static void ValidateValue(JsonElement schema, JsonElement value, string at, List<string> errors)
    {
        schema = Resolve(schema);

        if (schema.TryGetProperty("allOf", out var allOf))
        {
            foreach (var branch in allOf.EnumerateArray())
            {
                ValidateValue(branch, value, at, errors);
            }
        }

        if (schema.TryGetProperty("anyOf", out var anyOf))
        {
            var branchErrors = BranchErrors(anyOf, value, at);
            if (branchErrors.All(e => e.Count > 0))
            {
                errors.Add($"{at}: matches none of anyOf ({Describe(branchErrors)})");
            }
        }

        if (schema.TryGetProperty("oneOf", out var oneOf))
        {
            var branchErrors = BranchErrors(oneOf, value, at);
            var matching = branchErrors.Count(e => e.Count == 0);
            if (matching != 1)
            {
                errors.Add(matching == 0
                    ? $"{at}: matches none of oneOf ({Describe(branchErrors)})"
                    : $"{at}: matches {matching} branches of oneOf, must match exactly one");
            }
        }

        if (value.ValueKind == JsonValueKind.Null)
        {
            var nullable = schema.TryGetProperty("nullable", out var n) && n.ValueKind == JsonValueKind.True;
            if (!nullable && schema.TryGetProperty("type", out _))
            {
                errors.Add($"{at}: null is not allowed");
            }

            return;
        }

        if (schema.TryGetProperty("type", out var typeElement) && !HasType(value, typeElement.GetString()!))
        {
            errors.Add($"{at}: expected {typeElement.GetString()}, got {value.ValueKind.ToString().ToLowerInvariant()} {Short(value)}");
            return;
        }

        if (schema.TryGetProperty("enum", out var allowed)
            && !allowed.EnumerateArray().Any(a => a.ValueKind == value.ValueKind && a.GetRawText() == value.GetRawText()))
        {
            errors.Add($"{at}: {Short(value)} is not one of {allowed.GetRawText()}");
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                ValidateString(schema, value.GetString()!, at, errors);
                break;
            case JsonValueKind.Array:
                ValidateArray(schema, value, at, errors);
                break;
            case JsonValueKind.Object:
                ValidateObject(schema, value, at, errors);
                break;
        }
    }

    private static void ValidateString(JsonElement schema, string value, string at, List<string> errors)
    {
        // JSON Schema counts characters as code points.
        var length = value.EnumerateRunes().Count();
        if (schema.TryGetProperty("maxLength", out var max) && length > max.GetInt32())
        {
            errors.Add($"{at}: {length} characters, at most {max.GetInt32()} allowed");
        }

        if (schema.TryGetProperty("minLength", out var min) && length < min.GetInt32())
        {
            errors.Add($"{at}: {length} characters, at least {min.GetInt32()} required");
        }

        if (schema.TryGetProperty("format", out var format) && format.GetString() == "date-time" && !DateTime().IsMatch(value))
        {
            errors.Add($"{at}: '{value}' is not an RFC 3339 date-time");
        }
    }

    private static void ValidateArray(JsonElement schema, JsonElement value, string at, List<string> errors)
    {
        var count = value.GetArrayLength();
        if (schema.TryGetProperty("maxItems", out var max) && count > max.GetInt32())
        {
            errors.Add($"{at}: {count} items, at most {max.GetInt32()} allowed");
        }

        if (schema.TryGetProperty("minItems", out var min) && count < min.GetInt32())
        {
            errors.Add($"{at}: {count} items, at least {min.GetInt32()} required");
        }

        if (schema.TryGetProperty("items", out var items))
        {
            var i = 0;
            foreach (var item in value.EnumerateArray())
            {
                ValidateValue(items, item, $"{at}[{i++}]", errors);
            }
        }
    }

    private static void ValidateObject(JsonElement schema, JsonElement value, string at, List<string> errors)
    {
        if (schema.TryGetProperty("required", out var required))
        {
            foreach (var name in required.EnumerateArray().Select(r => r.GetString()!))
            {
                if (!value.TryGetProperty(name, out _))
                {
                    errors.Add($"{at}: required property '{name}' is missing");
                }
            }
        }

        var hasProperties = schema.TryGetProperty("properties", out var properties);
        schema.TryGetProperty("additionalProperties", out var additional);
        foreach (var property in value.EnumerateObject())
        {
            var path = $"{at}.{property.Name}";
            if (hasProperties && properties.TryGetProperty(property.Name, out var propertySchema))
            {
                ValidateValue(propertySchema, property.Value, path, errors);
            }
            else if (additional.ValueKind == JsonValueKind.False)
            {
                errors.Add($"{path}: property is not allowed");
            }
            else if (additional.ValueKind == JsonValueKind.Object)
            {
                ValidateValue(additional, property.Value, path, errors);
            }
        }
    }

    private static List<List<string>> BranchErrors(JsonElement branches, JsonElement value, string at) =>
        [.. branches.EnumerateArray().Select(branch =>
        {
            var branchErrors = new List<string>();
            ValidateValue(branch, value, at, branchErrors);
            return branchErrors;
        })];

    private static string Describe(List<List<string>> branchErrors) =>
        string.Join("; or ", branchErrors.Select(e => string.Join(", ", e)));

    private static bool HasType(JsonElement value, string type) => type switch
    {
        "object" => value.ValueKind == JsonValueKind.Object,
        "array" => value.ValueKind == JsonValueKind.Array,
        "string" => value.ValueKind == JsonValueKind.String,
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "number" => value.ValueKind == JsonValueKind.Number,
        "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetDecimal(out var d) && decimal.Truncate(d) == d,
        _ => throw new NotSupportedException($"schema type '{type}' is not handled by {nameof(OpenApiContract)}"),
    };

    private static JsonElement Resolve(JsonElement element)
    {
        for (var depth = 0; element.ValueKind == JsonValueKind.Object && element.TryGetProperty("$ref", out var reference); depth++)
        {
            if (depth > 32)
            {
                throw new InvalidOperationException($"$ref cycle at {reference.GetString()}");
            }

            var pointer = reference.GetString()!;
            if (!pointer.StartsWith("#/", StringComparison.Ordinal))
            {
                throw new NotSupportedException($"only local $ref are handled, not {pointer}");
            }

            element = Spec.Value.RootElement;
            foreach (var token in pointer[2..].Split('/'))
            {
                var name = token.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
                if (!element.TryGetProperty(name, out element))
                {
                    throw new InvalidOperationException($"$ref {pointer} does not resolve in the description");
                }
            }
        }

        return element;
    }

    private static string Short(JsonElement value)
    {
        var text = value.GetRawText();
        return text.Length <= 60 ? text : text[..57] + "...";
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", RegexOptions.IgnoreCase)]
    private static partial Regex DateTime();
}
