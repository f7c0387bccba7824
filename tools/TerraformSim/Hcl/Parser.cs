using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Ensemble.TerraformSim.Hcl;

/// <summary>Recursive-descent parser for HCL bodies; strict about structure, lenient about expressions it cannot evaluate.</summary>
public sealed class Parser
{
    private readonly IReadOnlyList<Token> _tokens;
    private readonly string _file;
    private readonly IReadOnlyList<string> _lines;
    private readonly Stack<string> _context = new();
    private int _pos;

    private Parser(IReadOnlyList<Token> tokens, string file, IReadOnlyList<string> lines)
    {
        _tokens = tokens;
        _file = file;
        _lines = lines;
    }

    public static HclFile Parse(string source, string displayPath)
    {
        var lines = source.Split('\n');
        var tokens = new Lexer(source, displayPath, lines).Tokenize();
        var parser = new Parser(tokens, displayPath, lines);
        var body = parser.ParseBody(openLine: null);
        return new HclFile(displayPath, body, lines);
    }

    private Token Current => _tokens[_pos];

    private Token Next() => _tokens[_pos++];

    private void SkipNewlines()
    {
        while (Current.Kind == TokenKind.Newline)
        {
            _pos++;
        }
    }

    private HclBody ParseBody(int? openLine)
    {
        var attributes = new List<HclAttribute>();
        var blocks = new List<HclBlock>();
        while (true)
        {
            SkipNewlines();
            if (Current.Kind == TokenKind.Eof)
            {
                if (openLine is int line)
                {
                    throw Error(line, "Unclosed configuration block", "There is no closing brace for this block before the end of the file. This may be caused by incorrect brace nesting elsewhere in this file.");
                }

                return new HclBody(attributes, blocks);
            }

            if (Current.Is("}"))
            {
                if (openLine is null)
                {
                    throw Error(Current.Line, "Argument or block definition required", "An argument or block definition is required here.");
                }

                _pos++;
                return new HclBody(attributes, blocks);
            }

            if (Current.Kind != TokenKind.Ident)
            {
                throw Error(Current.Line, "Argument or block definition required", "An argument or block definition is required here.");
            }

            var name = Next();
            if (Current.Is("="))
            {
                _pos++;
                if (attributes.Any(a => a.Name == name.Text))
                {
                    throw Error(name.Line, "Attribute redefined", $"The argument \"{name.Text}\" was already set. Each argument may be set only once.");
                }

                attributes.Add(new HclAttribute(name.Text, ParseExpression(), name.Line));
                if (Current.Kind is not (TokenKind.Newline or TokenKind.Eof) && !Current.Is("}"))
                {
                    throw Error(Current.Line, "Missing newline after argument", "An argument definition must end with a newline.");
                }

                continue;
            }

            var labels = new List<string>();
            while (Current.Kind is TokenKind.String or TokenKind.Ident)
            {
                labels.Add(Next().Text);
            }

            if (!Current.Is("{"))
            {
                throw Error(Current.Line, "Invalid block definition", "Either a quoted string block label or an opening brace (\"{\") is expected here.");
            }

            _pos++;
            var block = new HclBlock(name.Text, labels, new HclBody([], []), name.Line);
            _context.Push(block.Describe());
            var body = ParseBody(name.Line);
            _context.Pop();
            blocks.Add(block with { Body = body });
        }
    }

    private Expr ParseExpression()
    {
        var start = Current;
        var expr = ParsePrimary();
        if (IsExpressionEnd(Current))
        {
            return expr;
        }

        // Operators, conditionals, splats...: keep parsing structurally but mark the value unsupported.
        var text = new StringBuilder(Describe(start));
        var depth = 0;
        while (depth > 0 || !IsExpressionEnd(Current))
        {
            var token = Current;
            if (token.Kind == TokenKind.Eof)
            {
                throw Error(start.Line, "Invalid expression", "The expression is not terminated before the end of the file.");
            }

            if (token.Is("(") || token.Is("[") || token.Is("{"))
            {
                depth++;
            }
            else if (token.Is(")") || token.Is("]") || token.Is("}"))
            {
                depth--;
            }

            text.Append(' ').Append(token.Text);
            _pos++;
        }

        return new UnsupportedExpr(text.ToString(), start.Line);
    }

    private static bool IsExpressionEnd(Token t) =>
        t.Kind is TokenKind.Newline or TokenKind.Eof || t.Is(",") || t.Is("]") || t.Is("}") || t.Is(")");

    private static string Describe(Token t) => t.Kind == TokenKind.String ? $"\"{t.Text}\"" : t.Text;

    private Expr ParsePrimary()
    {
        var token = Current;
        switch (token.Kind)
        {
            case TokenKind.String:
            case TokenKind.Heredoc:
                _pos++;
                return token.Text.Contains("${", StringComparison.Ordinal) || token.Text.Contains(Template.LiteralDollarSentinel, StringComparison.Ordinal)
                    ? new TemplateExpr(token.Text, token.Line)
                    : new LiteralExpr(JsonValue.Create(token.Text), token.Line);
            case TokenKind.Number:
                _pos++;
                return new LiteralExpr(ParseNumber(token.Text, negative: false), token.Line);
            case TokenKind.Ident:
                return ParseIdentifier();
        }

        if (token.Is("-") && _tokens[_pos + 1].Kind == TokenKind.Number)
        {
            _pos += 2;
            return new LiteralExpr(ParseNumber(_tokens[_pos - 1].Text, negative: true), token.Line);
        }

        if (token.Is("["))
        {
            return ParseList();
        }

        if (token.Is("{"))
        {
            return ParseObject();
        }

        if (token.Is("("))
        {
            _pos++;
            var inner = ParseExpression();
            SkipNewlines();
            Expect(")");
            return new UnsupportedExpr($"({inner})", token.Line);
        }

        throw Error(token.Line, "Invalid expression", "Expected the start of an expression, but found an invalid expression token.");
    }

    private static JsonNode ParseNumber(string text, bool negative)
    {
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var whole))
        {
            return JsonValue.Create(negative ? -whole : whole);
        }

        var value = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        return JsonValue.Create(negative ? -value : value);
    }

    private Expr ParseIdentifier()
    {
        var first = Next();
        switch (first.Text)
        {
            case "true": return new LiteralExpr(JsonValue.Create(true), first.Line);
            case "false": return new LiteralExpr(JsonValue.Create(false), first.Line);
            case "null": return new LiteralExpr(null, first.Line);
        }

        if (Current.Is("("))
        {
            // Function call: parse the arguments so nesting errors surface, then report it unsupported (file() aside).
            _pos++;
            var arguments = new List<Expr>();
            while (true)
            {
                SkipNewlines();
                if (Current.Is(")"))
                {
                    _pos++;
                    break;
                }

                arguments.Add(ParseExpression());
                SkipNewlines();
                if (Current.Is(",") || Current.Is("..."))
                {
                    _pos++;
                }
                else if (!Current.Is(")"))
                {
                    throw Error(Current.Line, "Missing argument separator", "A comma is required to separate each function argument from the next.");
                }
            }

            return first.Text == "file" && arguments.Count == 1
                ? new FileExpr(arguments[0], first.Line)
                : new UnsupportedExpr($"{first.Text}(...)", first.Line);
        }

        var parts = new List<string> { first.Text };
        var simple = true;
        while (true)
        {
            if (Current.Is(".") && _tokens[_pos + 1].Kind is TokenKind.Ident or TokenKind.Number)
            {
                parts.Add(_tokens[_pos + 1].Text);
                _pos += 2;
            }
            else if (Current.Is(".") && _tokens[_pos + 1].Is("*"))
            {
                parts.Add("*");
                _pos += 2;
                simple = false;
            }
            else if (Current.Is("["))
            {
                _pos++;
                ParseExpression();
                Expect("]");
                parts.Add("[...]");
                simple = false;
            }
            else
            {
                break;
            }
        }

        return simple && parts.Count == 2 && parts[0] == "var"
            ? new VarRefExpr(parts[1], first.Line)
            : new UnsupportedExpr(string.Join('.', parts), first.Line);
    }

    private ListExpr ParseList()
    {
        var open = Next();
        var items = new List<Expr>();
        while (true)
        {
            SkipNewlines();
            if (Current.Is("]"))
            {
                _pos++;
                return new ListExpr(items, open.Line);
            }

            if (Current.Kind == TokenKind.Eof)
            {
                throw Error(open.Line, "Missing item separator", "Expected a closing bracket (\"]\") for this list.");
            }

            items.Add(ParseExpression());
            SkipNewlines();
            if (Current.Is(","))
            {
                _pos++;
            }
            else if (!Current.Is("]"))
            {
                throw Error(Current.Line, "Missing item separator", "Expected a comma to mark the beginning of the next item.");
            }
        }
    }

    private ObjectExpr ParseObject()
    {
        var open = Next();
        var items = new List<KeyValuePair<string, Expr>>();
        while (true)
        {
            SkipNewlines();
            if (Current.Is("}"))
            {
                _pos++;
                return new ObjectExpr(items, open.Line);
            }

            if (Current.Kind is not (TokenKind.Ident or TokenKind.String or TokenKind.Number))
            {
                throw Error(Current.Line, "Invalid object key", "An object key must be an identifier or a quoted string.");
            }

            var key = Next().Text;
            if (!Current.Is("=") && !Current.Is(":"))
            {
                throw Error(Current.Line, "Missing key/value separator", "Expected an equals sign (\"=\") to mark the beginning of the attribute value.");
            }

            _pos++;
            items.Add(new(key, ParseExpression()));
            if (Current.Is(","))
            {
                _pos++;
            }
            else if (Current.Kind != TokenKind.Newline && !Current.Is("}"))
            {
                throw Error(Current.Line, "Missing attribute separator", "Expected a newline or comma to mark the beginning of the next attribute.");
            }
        }
    }

    private void Expect(string punct)
    {
        if (!Current.Is(punct))
        {
            throw Error(Current.Line, "Invalid expression", $"Expected \"{punct}\" here.");
        }

        _pos++;
    }

    private DiagnosticException Error(int line, string summary, string detail) =>
        new(new Diagnostic(summary, detail, new SourceRange(_file, line, _context.Count > 0 ? _context.Peek() : null, Lexer.SourceAt(_lines, line))));
}
