using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Ensemble.TerraformSim.Hcl;

/// <summary>Evaluates the supported expression subset: literals, collections, var.NAME and "${var.NAME}".</summary>
public static partial class Template
{
    /// <summary>Stands for a literal '$' written as "$${" so it is not read as an interpolation.</summary>
    public const char LiteralDollarSentinel = '\uE000';

    [GeneratedRegex(@"\$\{\s*([^}]*?)\s*\}")]
    private static partial Regex Interpolation();

    [GeneratedRegex(@"^var\.([A-Za-z_][A-Za-z0-9_-]*)$")]
    private static partial Regex VarReference();

    public static JsonNode? Evaluate(Expr expr, IReadOnlyDictionary<string, JsonNode?> variables, HclFile file, string? context)
    {
        switch (expr)
        {
            case LiteralExpr literal:
                return literal.Value?.DeepClone();
            case ListExpr list:
                return new JsonArray([.. list.Items.Select(i => Evaluate(i, variables, file, context))]);
            case ObjectExpr obj:
                var result = new JsonObject();
                foreach (var (key, value) in obj.Items)
                {
                    result[key] = Evaluate(value, variables, file, context);
                }

                return result;
            case VarRefExpr reference:
                return Lookup(reference.Name, reference.Line, variables, file, context);
            case TemplateExpr template:
                return Interpolate(template, variables, file, context);
            case FileExpr read:
                var path = Evaluate(read.Path, variables, file, context) is JsonValue p && p.TryGetValue<string>(out var text) ? text : "";
                if (!File.Exists(path))
                {
                    throw new DiagnosticException(new Diagnostic(
                        "Invalid function argument",
                        $"Invalid value for \"path\" parameter: no file exists at \"{path}\"; this function works only with files that are distributed as part of the configuration source code, so if this file will be created by a resource in this configuration you must instead obtain this result from an attribute of that resource.",
                        file.Range(read.Line, context)));
                }

                return JsonValue.Create(File.ReadAllText(path));
            case UnsupportedExpr unsupported:
                throw new DiagnosticException(new Diagnostic(
                    "Unsupported expression",
                    $"terraform-sim only evaluates literal values and var.NAME references; \"{unsupported.Text}\" is outside that subset.",
                    file.Range(unsupported.Line, context)));
            default:
                throw new InvalidOperationException($"Unknown expression {expr.GetType().Name}");
        }
    }

    private static JsonNode? Interpolate(TemplateExpr template, IReadOnlyDictionary<string, JsonNode?> variables, HclFile file, string? context)
    {
        var matches = Interpolation().Matches(template.Text);
        if (matches.Count == 1 && matches[0].Length == template.Text.Length)
        {
            // A template that is exactly one interpolation keeps the value's type, as in HCL.
            return Lookup(ReferenceName(matches[0], template, file, context), template.Line, variables, file, context);
        }

        var sb = new StringBuilder();
        var last = 0;
        foreach (Match match in matches)
        {
            sb.Append(template.Text, last, match.Index - last);
            var value = Lookup(ReferenceName(match, template, file, context), template.Line, variables, file, context);
            sb.Append(value is JsonValue v && v.TryGetValue<string>(out var s) ? s : value?.ToJsonString() ?? "");
            last = match.Index + match.Length;
        }

        sb.Append(template.Text, last, template.Text.Length - last);
        return JsonValue.Create(sb.ToString().Replace(LiteralDollarSentinel, '$'));
    }

    private static string ReferenceName(Match match, TemplateExpr template, HclFile file, string? context)
    {
        var reference = VarReference().Match(match.Groups[1].Value);
        if (!reference.Success)
        {
            throw new DiagnosticException(new Diagnostic(
                "Unsupported expression",
                $"terraform-sim only interpolates var.NAME references; \"{match.Value}\" is outside that subset.",
                file.Range(template.Line, context)));
        }

        return reference.Groups[1].Value;
    }

    private static JsonNode? Lookup(string name, int line, IReadOnlyDictionary<string, JsonNode?> variables, HclFile file, string? context)
    {
        if (!variables.TryGetValue(name, out var value))
        {
            throw new DiagnosticException(new Diagnostic(
                "Reference to undeclared input variable",
                $"An input variable with the name \"{name}\" has not been declared. This variable can be declared with a variable \"{name}\" {{}} block.",
                file.Range(line, context)));
        }

        return value?.DeepClone();
    }
}
