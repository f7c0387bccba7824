using System.Globalization;
using System.Text;

namespace Ensemble.TerraformSim.Hcl;

public enum TokenKind
{
    Ident,
    Number,
    String,
    Heredoc,
    Punct,
    Newline,
    Eof,
}

/// <summary>One token; for strings and heredocs <see cref="Text"/> is the unescaped template text.</summary>
public sealed record Token(TokenKind Kind, string Text, int Line)
{
    public bool Is(string punct) => Kind == TokenKind.Punct && Text == punct;
}

/// <summary>A small HCL tokenizer: comments, quoted templates with escapes, heredocs, punctuation.</summary>
public sealed class Lexer(string source, string file, IReadOnlyList<string> lines)
{
    private int _pos;
    private int _line = 1;

    public IReadOnlyList<Token> Tokenize()
    {
        var tokens = new List<Token>();
        while (true)
        {
            SkipSpacesAndComments();
            if (_pos >= source.Length)
            {
                tokens.Add(new Token(TokenKind.Eof, "", _line));
                return tokens;
            }

            var c = source[_pos];
            if (c == '\n')
            {
                tokens.Add(new Token(TokenKind.Newline, "\n", _line));
                _pos++;
                _line++;
            }
            else if (c == '"')
            {
                tokens.Add(ReadString());
            }
            else if (c == '<' && Peek(1) == '<' && (IsIdentStart(Peek(2)) || (Peek(2) == '-' && IsIdentStart(Peek(3)))))
            {
                tokens.Add(ReadHeredoc());
            }
            else if (char.IsAsciiDigit(c))
            {
                tokens.Add(ReadNumber());
            }
            else if (IsIdentStart(c))
            {
                var start = _pos;
                while (_pos < source.Length && (char.IsAsciiLetterOrDigit(source[_pos]) || source[_pos] is '_' or '-'))
                {
                    _pos++;
                }

                tokens.Add(new Token(TokenKind.Ident, source[start.._pos], _line));
            }
            else
            {
                tokens.Add(ReadPunct());
            }
        }
    }

    private char Peek(int ahead) => _pos + ahead < source.Length ? source[_pos + ahead] : '\0';

    private static bool IsIdentStart(char c) => char.IsAsciiLetter(c) || c == '_';

    private void SkipSpacesAndComments()
    {
        while (_pos < source.Length)
        {
            var c = source[_pos];
            if (c is ' ' or '\t' or '\r')
            {
                _pos++;
            }
            else if (c == '#' || (c == '/' && Peek(1) == '/'))
            {
                // The newline itself stays: it terminates the attribute before the comment.
                while (_pos < source.Length && source[_pos] != '\n')
                {
                    _pos++;
                }
            }
            else if (c == '/' && Peek(1) == '*')
            {
                var startLine = _line;
                var end = source.IndexOf("*/", _pos + 2, StringComparison.Ordinal);
                if (end < 0)
                {
                    throw Error(startLine, "Unterminated template string", "This multi-line comment has no closing \"*/\" before the end of the file.");
                }

                _line += source.AsSpan(_pos, end - _pos).Count('\n');
                _pos = end + 2;
            }
            else
            {
                return;
            }
        }
    }

    private Token ReadString()
    {
        var startLine = _line;
        var sb = new StringBuilder();
        _pos++; // opening quote
        var depth = 0; // inside ${ ... } quotes do not end the string
        while (true)
        {
            if (_pos >= source.Length || source[_pos] == '\n')
            {
                throw Error(startLine, "Unterminated template string", "No closing marker was found for the string.");
            }

            var c = source[_pos];
            if (depth == 0 && c == '"')
            {
                _pos++;
                return new Token(TokenKind.String, sb.ToString(), startLine);
            }

            if (c == '\\')
            {
                sb.Append(ReadEscape(startLine));
                continue;
            }

            if (depth == 0 && c == '$' && Peek(1) == '$' && Peek(2) == '{')
            {
                // "$${" is a literal "${"; the sentinel keeps it from being read as an interpolation.
                sb.Append(Template.LiteralDollarSentinel).Append('{');
                _pos += 3;
                continue;
            }

            if (c == '$' && Peek(1) == '{')
            {
                depth++;
                sb.Append("${");
                _pos += 2;
                continue;
            }

            if (depth > 0 && c == '{')
            {
                depth++;
            }
            else if (depth > 0 && c == '}')
            {
                depth--;
            }

            sb.Append(c);
            _pos++;
        }
    }

    private string ReadEscape(int startLine)
    {
        var next = Peek(1);
        _pos += 2;
        switch (next)
        {
            case 'n': return "\n";
            case 't': return "\t";
            case 'r': return "\r";
            case '"': return "\"";
            case '\\': return "\\";
            case 'u':
            case 'U':
                var len = next == 'u' ? 4 : 8;
                if (_pos + len > source.Length || !int.TryParse(source.AsSpan(_pos, len), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var code))
                {
                    throw Error(startLine, "Invalid escape sequence", $"The \\{next} escape needs {len} hexadecimal digits.");
                }

                _pos += len;
                return char.ConvertFromUtf32(code);
            default:
                throw Error(startLine, "Invalid escape sequence", $"The symbol \"{next}\" is not a valid escape sequence selector.");
        }
    }

    private Token ReadHeredoc()
    {
        var startLine = _line;
        _pos += 2;
        var indent = false;
        if (source[_pos] == '-')
        {
            indent = true;
            _pos++;
        }

        var start = _pos;
        while (_pos < source.Length && (char.IsAsciiLetterOrDigit(source[_pos]) || source[_pos] == '_'))
        {
            _pos++;
        }

        var marker = source[start.._pos];
        while (_pos < source.Length && source[_pos] is ' ' or '\t' or '\r')
        {
            _pos++;
        }

        if (_pos >= source.Length || source[_pos] != '\n')
        {
            throw Error(startLine, "Invalid heredoc anchor", "The heredoc marker must be followed by a newline.");
        }

        _pos++;
        _line++;
        var body = new List<string>();
        while (true)
        {
            if (_pos >= source.Length)
            {
                throw Error(startLine, "Unterminated template string", $"No closing marker was found for the heredoc \"{marker}\".");
            }

            var end = source.IndexOf('\n', _pos);
            var lineText = end < 0 ? source[_pos..] : source[_pos..end];
            _pos = end < 0 ? source.Length : end;
            if (lineText.TrimEnd('\r').Trim() == marker)
            {
                break; // the newline after the marker stays as the attribute terminator
            }

            body.Add(lineText.TrimEnd('\r'));
            _pos++;
            _line++;
        }

        if (indent)
        {
            var min = body.Where(l => l.Trim().Length > 0).Select(l => l.Length - l.TrimStart().Length).DefaultIfEmpty(0).Min();
            body = [.. body.Select(l => l.Length >= min ? l[min..] : l.TrimStart())];
        }

        return new Token(TokenKind.Heredoc, string.Concat(body.Select(l => l + "\n")), startLine);
    }

    private Token ReadNumber()
    {
        var start = _pos;
        while (char.IsAsciiDigit(Peek(0)))
        {
            _pos++;
        }

        if (Peek(0) == '.' && char.IsAsciiDigit(Peek(1)))
        {
            _pos++;
            while (char.IsAsciiDigit(Peek(0)))
            {
                _pos++;
            }
        }

        if (Peek(0) is 'e' or 'E' && (char.IsAsciiDigit(Peek(1)) || (Peek(1) is '+' or '-' && char.IsAsciiDigit(Peek(2)))))
        {
            _pos += 2;
            while (char.IsAsciiDigit(Peek(0)))
            {
                _pos++;
            }
        }

        return new Token(TokenKind.Number, source[start.._pos], _line);
    }

    private Token ReadPunct()
    {
        string[] twoChar = ["==", "!=", ">=", "<=", "&&", "||", "=>", "...", "::"];
        foreach (var op in twoChar)
        {
            if (string.CompareOrdinal(source, _pos, op, 0, op.Length) == 0)
            {
                _pos += op.Length;
                return new Token(TokenKind.Punct, op, _line);
            }
        }

        var c = source[_pos];
        if ("{}[]()=,:.?+-*/%<>!".Contains(c, StringComparison.Ordinal))
        {
            _pos++;
            return new Token(TokenKind.Punct, c.ToString(), _line);
        }

        throw Error(_line, "Invalid character", $"The character \"{c}\" is not used within the language.");
    }

    private DiagnosticException Error(int line, string summary, string detail) =>
        new(new Diagnostic(summary, detail, new SourceRange(file, line, null, SourceAt(lines, line))));

    public static string? SourceAt(IReadOnlyList<string> lines, int line) =>
        line >= 1 && line <= lines.Count ? lines[line - 1].TrimEnd('\r') : null;
}
