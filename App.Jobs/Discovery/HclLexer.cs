namespace Ensemble.Jobs.Discovery;

internal enum TokenKind
{
    Eof, Newline, Identifier, String, Heredoc,
    OpenBrace, CloseBrace, OpenParen, CloseParen, OpenBracket, CloseBracket,
    Equals, Comma, Other,
}

/// <summary>
/// One token as offsets into the text: nothing is copied while lexing. For strings, Start/End delimit the
/// content between the quotes.
/// </summary>
internal readonly record struct Token(TokenKind Kind, int Start, int End, int Line, bool HasInterpolation, bool HasEscape);

/// <summary>
/// A hand-written HCL lexer: enough of the language to never mistake a comment, a string, an interpolation or a
/// heredoc for structure. Single forward pass, no backtracking, problems collected instead of thrown.
/// </summary>
internal sealed class HclLexer
{
    // Interpolations may nest strings that hold interpolations; a hostile file must not blow the stack.
    private const int MaxTemplateNesting = 64;

    private readonly string _text;
    private readonly List<ScanProblem> _problems;
    private int _pos;
    private int _line = 1;
    private Token? _pushedBack;

    public HclLexer(string text, List<ScanProblem> problems)
    {
        _text = text;
        _problems = problems;
        if (text.Length > 0 && text[0] == '\uFEFF')
        {
            _pos = 1;
        }
    }

    public string Text => _text;

    /// <summary>String arguments of file-reading calls found inside <c>${…}</c>; the scanner drains it.</summary>
    public List<Token> TemplateReads { get; } = [];

    private static readonly string[] ReadFunctions =
        ["file", "templatefile", "filebase64", "filemd5", "filesha1", "filesha256", "filesha512", "filebase64sha256", "filebase64sha512"];

    public static bool IsReadFunction(ReadOnlySpan<char> name)
    {
        if (name.Length < 4 || name[0] is not ('f' or 't'))
        {
            return false; // most identifiers are not file functions: decide cheaply
        }
        foreach (var function in ReadFunctions)
        {
            if (name.SequenceEqual(function))
            {
                return true;
            }
        }
        return false;
    }

    public void PushBack(Token token) => _pushedBack = token;

    public Token Next()
    {
        if (_pushedBack is { } pushed)
        {
            _pushedBack = null;
            return pushed;
        }

        var text = _text;
        while (_pos < text.Length)
        {
            var c = text[_pos];
            switch (c)
            {
                case ' ' or '\t' or '\r' or '\f' or '\v':
                    _pos++;
                    continue;
                case '\n':
                    _pos++;
                    _line++;
                    return new Token(TokenKind.Newline, _pos - 1, _pos, _line - 1, false, false);
                case '#':
                    SkipLineComment();
                    continue;
                case '/' when Peek(1) == '/':
                    SkipLineComment();
                    continue;
                case '/' when Peek(1) == '*':
                    SkipBlockComment();
                    continue;
                case '"':
                    return LexString();
                case '<' when Peek(1) == '<' && TryLexHeredoc(out var heredoc):
                    return heredoc;
                case '{': return Single(TokenKind.OpenBrace);
                case '}': return Single(TokenKind.CloseBrace);
                case '(': return Single(TokenKind.OpenParen);
                case ')': return Single(TokenKind.CloseParen);
                case '[': return Single(TokenKind.OpenBracket);
                case ']': return Single(TokenKind.CloseBracket);
                case ',': return Single(TokenKind.Comma);
                case '=':
                    // "==" and "=>" are operators, not the attribute "=".
                    if (Peek(1) is '=' or '>')
                    {
                        _pos += 2;
                        return new Token(TokenKind.Other, _pos - 2, _pos, _line, false, false);
                    }
                    return Single(TokenKind.Equals);
                case '!' or '<' or '>' when Peek(1) == '=':
                    _pos += 2;
                    return new Token(TokenKind.Other, _pos - 2, _pos, _line, false, false);
                default:
                    if (IsIdentifierStart(c))
                    {
                        var start = _pos;
                        _pos++;
                        while (_pos < text.Length && IsIdentifierPart(text[_pos]))
                        {
                            _pos++;
                        }
                        return new Token(TokenKind.Identifier, start, _pos, _line, false, false);
                    }
                    if (char.IsAsciiDigit(c))
                    {
                        var start = _pos;
                        while (_pos < text.Length && (char.IsAsciiLetterOrDigit(text[_pos]) || text[_pos] == '.'))
                        {
                            _pos++;
                        }
                        return new Token(TokenKind.Other, start, _pos, _line, false, false);
                    }
                    return Single(TokenKind.Other);
            }
        }
        return new Token(TokenKind.Eof, _pos, _pos, _line, false, false);
    }

    private static bool IsIdentifierStart(char c) => char.IsAsciiLetter(c) || c == '_' || (c > 127 && char.IsLetter(c));

    private static bool IsIdentifierPart(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' || (c > 127 && char.IsLetterOrDigit(c));

    private char Peek(int offset) => _pos + offset < _text.Length ? _text[_pos + offset] : '\0';

    private Token Single(TokenKind kind)
    {
        _pos++;
        return new Token(kind, _pos - 1, _pos, _line, false, false);
    }

    private void SkipLineComment()
    {
        var end = _text.IndexOf('\n', _pos);
        _pos = end < 0 ? _text.Length : end; // the newline itself still ends the current attribute
    }

    private void SkipBlockComment()
    {
        var startLine = _line;
        var end = _text.IndexOf("*/", _pos + 2, StringComparison.Ordinal);
        var stop = end < 0 ? _text.Length : end + 2;
        _line += _text.AsSpan(_pos, stop - _pos).Count('\n');
        _pos = stop;
        if (end < 0)
        {
            _problems.Add(new ScanProblem(startLine, "unterminated /* comment"));
        }
    }

    private Token LexString()
    {
        var line = _line;
        _pos++; // opening quote
        var start = _pos;
        var interpolation = false;
        var escape = false;
        var closed = ScanQuotedBody(ref interpolation, ref escape, 0);
        var end = closed ? _pos - 1 : _pos;
        return new Token(TokenKind.String, start, end, line, interpolation, escape);
    }

    /// <summary>Scans up to and including the closing quote; false (and a problem) when there is none.</summary>
    private bool ScanQuotedBody(ref bool interpolation, ref bool escape, int nesting)
    {
        var text = _text;
        var line = _line;
        while (_pos < text.Length)
        {
            var c = text[_pos];
            switch (c)
            {
                case '"':
                    _pos++;
                    return true;
                case '\\':
                    escape = true;
                    // A backslash before the newline does not continue the string onto the next line.
                    _pos += Peek(1) == '\n' ? 1 : 2;
                    continue;
                case '\n':
                    // Quoted strings cannot span lines: stop here so the rest of the file still parses.
                    _problems.Add(new ScanProblem(line, "unterminated string"));
                    return false;
                case '$' or '%' when Peek(1) == c && Peek(2) == '{':
                    escape = true; // "$${" is a literal "${"
                    _pos += 3;
                    continue;
                case '$' or '%' when Peek(1) == '{':
                    interpolation = true;
                    _pos += 2;
                    if (!SkipTemplateExpression(nesting + 1))
                    {
                        return false;
                    }
                    continue;
                default:
                    _pos++;
                    continue;
            }
        }
        _problems.Add(new ScanProblem(line, "unterminated string"));
        return false;
    }

    /// <summary>Skips the inside of <c>${…}</c> up to its closing brace: braces and nested strings balance.</summary>
    private bool SkipTemplateExpression(int nesting)
    {
        var line = _line;
        if (nesting > MaxTemplateNesting)
        {
            _problems.Add(new ScanProblem(line, "interpolations nested too deeply"));
            _pos = _text.Length;
            return false;
        }
        var depth = 1;
        var text = _text;
        // Recognises FUNC ( "path" followed by ',' or ')' inside the interpolation, e.g. "${md5(file("x"))}".
        var callState = 0;
        Token callArgument = default;
        while (_pos < text.Length)
        {
            var c = text[_pos];
            if (c is ' ' or '\t' or '\r')
            {
                _pos++;
                continue;
            }
            if (IsIdentifierStart(c) && (_pos == 0 || !(IsIdentifierPart(text[_pos - 1]) || text[_pos - 1] == '.')))
            {
                var start = _pos;
                while (_pos < text.Length && IsIdentifierPart(text[_pos]))
                {
                    _pos++;
                }
                callState = IsReadFunction(text.AsSpan(start, _pos - start)) ? 1 : 0;
                continue;
            }
            callState = (callState, c) switch
            {
                (1, '(') => 2,
                (2, '"') => 3,
                (3, ',' or ')') => 4,
                _ => 0,
            };
            if (callState == 4)
            {
                TemplateReads.Add(callArgument);
                callState = 0;
            }
            switch (c)
            {
                case '{':
                    depth++;
                    _pos++;
                    continue;
                case '}':
                    _pos++;
                    if (--depth == 0)
                    {
                        return true;
                    }
                    continue;
                case '"':
                    var stringLine = _line;
                    _pos++;
                    var contentStart = _pos;
                    var interpolation = false;
                    var escape = false;
                    if (!ScanQuotedBody(ref interpolation, ref escape, nesting))
                    {
                        return false;
                    }
                    callArgument = new Token(TokenKind.String, contentStart, _pos - 1, stringLine, interpolation, escape);
                    continue;
                case '\n':
                    _line++;
                    _pos++;
                    continue;
                default:
                    _pos++;
                    continue;
            }
        }
        _problems.Add(new ScanProblem(line, "unterminated interpolation ${ … }"));
        return false;
    }

    /// <summary>
    /// <c>&lt;&lt;MARKER</c> or <c>&lt;&lt;-MARKER</c> then a newline opens a heredoc that ends at a line holding only
    /// MARKER (indentation allowed). Anything else starting with &lt;&lt; is not a heredoc.
    /// </summary>
    private bool TryLexHeredoc(out Token token)
    {
        token = default;
        var text = _text;
        var p = _pos + 2;
        if (p < text.Length && text[p] == '-')
        {
            p++;
        }
        var markerStart = p;
        if (p >= text.Length || !IsIdentifierStart(text[p]))
        {
            return false;
        }
        while (p < text.Length && IsIdentifierPart(text[p]))
        {
            p++;
        }
        var marker = text.AsSpan(markerStart, p - markerStart);
        while (p < text.Length && text[p] is ' ' or '\t' or '\r')
        {
            p++;
        }
        if (p >= text.Length || text[p] != '\n')
        {
            return false;
        }

        var startLine = _line;
        var line = _line + 1;
        var lineStart = p + 1;
        while (lineStart <= text.Length)
        {
            var newline = text.IndexOf('\n', lineStart);
            var lineEnd = newline < 0 ? text.Length : newline;
            var content = text.AsSpan(lineStart, lineEnd - lineStart).Trim(" \t\r");
            if (content.SequenceEqual(marker))
            {
                token = new Token(TokenKind.Heredoc, p + 1, lineStart, startLine, false, false);
                _pos = lineEnd; // the newline after the marker ends the attribute
                _line = line;
                return true;
            }
            if (newline < 0)
            {
                break;
            }
            lineStart = newline + 1;
            line++;
        }
        _problems.Add(new ScanProblem(startLine, $"unterminated heredoc <<{marker}"));
        token = new Token(TokenKind.Heredoc, p + 1, text.Length, startLine, false, false);
        _line = line;
        _pos = text.Length;
        return true;
    }
}
