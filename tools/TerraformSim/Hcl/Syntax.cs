using System.Text.Json.Nodes;

namespace Ensemble.TerraformSim.Hcl;

/// <summary>An expression of the supported subset; anything else parses as <see cref="UnsupportedExpr"/>.</summary>
public abstract record Expr(int Line);

public sealed record LiteralExpr(JsonNode? Value, int Line) : Expr(Line);

public sealed record TemplateExpr(string Text, int Line) : Expr(Line);

public sealed record ListExpr(IReadOnlyList<Expr> Items, int Line) : Expr(Line);

public sealed record ObjectExpr(IReadOnlyList<KeyValuePair<string, Expr>> Items, int Line) : Expr(Line);

public sealed record VarRefExpr(string Name, int Line) : Expr(Line);

public sealed record UnsupportedExpr(string Text, int Line) : Expr(Line);

/// <summary><c>file(PATH)</c>: the file's text, PATH relative to the working directory (the root module), as in terraform.</summary>
public sealed record FileExpr(Expr Path, int Line) : Expr(Line);

public sealed record HclAttribute(string Name, Expr Value, int Line);

public sealed record HclBlock(string Type, IReadOnlyList<string> Labels, HclBody Body, int Line)
{
    /// <summary>How terraform names a block in "in resource "a" "b"" contexts.</summary>
    public string Describe() => Labels.Count == 0 ? Type : $"{Type} {string.Join(' ', Labels.Select(l => $"\"{l}\""))}";
}

public sealed record HclBody(IReadOnlyList<HclAttribute> Attributes, IReadOnlyList<HclBlock> Blocks)
{
    public HclAttribute? Attribute(string name) => Attributes.FirstOrDefault(a => a.Name == name);

    public IEnumerable<HclBlock> BlocksOf(string type) => Blocks.Where(b => b.Type == type);
}

/// <summary>A parsed file, with its lines kept for diagnostics.</summary>
public sealed record HclFile(string DisplayPath, HclBody Body, IReadOnlyList<string> Lines)
{
    public SourceRange Range(int line, string? context) => new(DisplayPath, line, context, Lexer.SourceAt(Lines, line));
}
