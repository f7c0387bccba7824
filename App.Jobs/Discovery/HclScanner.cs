namespace Ensemble.Jobs.Discovery;

/// <summary>
/// Reads the few facts discovery needs from one .tf file: backend, module calls, required_version, files read.
/// It parses HCL's structure (bodies, attributes, blocks) rather than matching text, so a <c>backend</c> inside a
/// comment, a string, a heredoc or another block is never taken for one. Never throws on bad input.
/// </summary>
public static class HclScanner
{
    // Deeper than any real configuration; a hostile file must not exhaust the stack.
    private const int MaxBlockDepth = 100;

    public static HclFacts Scan(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var state = new ScanState(text);
        state.ParseBody(Context.TopLevel, depth: 0, opener: default);
        return new HclFacts(state.Backend, state.Modules, state.RequiredVersion, state.Reads, state.Problems);
    }

    private enum Context { TopLevel, Terraform, Module, Other }

    private sealed class ScanState(string text)
    {
        public readonly List<ScanProblem> Problems = [];
        public readonly List<ModuleCall> Modules = [];
        public readonly List<FileRead> Reads = [];
        public BackendBlock? Backend;
        public string? RequiredVersion;

        private HclLexer? _lexer;
        private HclLexer Lexer => _lexer ??= new HclLexer(text, Problems);

        // Closers expected by the attribute value being skipped; reused across attributes.
        private readonly List<TokenKind> _openBrackets = [];

        // Set while parsing the body of a module block.
        private string? _moduleSource;
        private bool _moduleSourceSeen;

        /// <summary>Parses attributes and blocks until the body's closing brace (consumed) or the end of text.</summary>
        public void ParseBody(Context context, int depth, Token opener)
        {
            var lexer = Lexer;
            while (true)
            {
                var token = lexer.Next();
                switch (token.Kind)
                {
                    case TokenKind.Newline:
                        continue;
                    case TokenKind.Eof:
                        if (depth > 0)
                        {
                            Problems.Add(new ScanProblem(opener.Line, $"unterminated block '{Slice(opener)}': missing '}}'"));
                        }
                        return;
                    case TokenKind.CloseBrace:
                        if (depth > 0)
                        {
                            return;
                        }
                        Problems.Add(new ScanProblem(token.Line, "unexpected '}'"));
                        continue;
                    case TokenKind.Identifier:
                        ParseItem(context, depth, token);
                        continue;
                    default:
                        Problems.Add(new ScanProblem(token.Line, $"unexpected '{Slice(token)}' where an attribute or block was expected"));
                        SkipToEndOfLine();
                        continue;
                }
            }
        }

        private void ParseItem(Context context, int depth, Token name)
        {
            var lexer = Lexer;
            var next = lexer.Next();
            if (next.Kind == TokenKind.Equals)
            {
                ParseAttribute(context, name);
                return;
            }

            // Block: NAME LABEL* {
            Token? firstLabel = null;
            var labelCount = 0;
            while (next.Kind is TokenKind.String or TokenKind.Identifier)
            {
                firstLabel ??= next;
                labelCount++;
                next = lexer.Next();
            }
            if (next.Kind != TokenKind.OpenBrace)
            {
                Problems.Add(new ScanProblem(name.Line, $"expected '=' or '{{' after '{Slice(name)}'"));
                if (next.Kind == TokenKind.CloseBrace)
                {
                    lexer.PushBack(next);
                }
                else if (next.Kind != TokenKind.Newline)
                {
                    SkipToEndOfLine();
                }
                return;
            }
            if (depth + 1 > MaxBlockDepth)
            {
                Problems.Add(new ScanProblem(name.Line, "blocks nested too deeply; rest of file skipped"));
                while (lexer.Next().Kind != TokenKind.Eof)
                {
                }
                return;
            }

            var blockName = Slice(name);
            var childContext = Context.Other;
            if (context == Context.TopLevel && blockName.SequenceEqual("terraform") && labelCount == 0)
            {
                childContext = Context.Terraform;
            }
            else if (context == Context.TopLevel && blockName.SequenceEqual("module") && labelCount == 1)
            {
                childContext = Context.Module;
            }
            else if (context == Context.Terraform && blockName.SequenceEqual("backend") && labelCount == 1)
            {
                SetBackend(LabelText(firstLabel!.Value), name.Line);
            }
            else if (context == Context.Terraform && blockName.SequenceEqual("cloud") && labelCount == 0)
            {
                SetBackend("cloud", name.Line);
            }

            if (childContext != Context.Module)
            {
                ParseBody(childContext, depth + 1, name);
                return;
            }

            _moduleSource = null;
            _moduleSourceSeen = false;
            var moduleName = LabelText(firstLabel!.Value);
            ParseBody(childContext, depth + 1, name);
            if (_moduleSource is { } source)
            {
                Modules.Add(new ModuleCall(moduleName, source, IsLocalSource(source), name.Line));
            }
            else if (!_moduleSourceSeen)
            {
                Problems.Add(new ScanProblem(name.Line, $"module '{moduleName}' has no source"));
            }
            _moduleSource = null;
        }

        private void SetBackend(string type, int line)
        {
            if (Backend is { } existing)
            {
                Problems.Add(new ScanProblem(line, $"duplicate backend configuration (first at line {existing.Line})"));
                return;
            }
            Backend = new BackendBlock(type, line);
        }

        /// <summary>
        /// Skips an attribute's expression, which ends at a newline outside brackets (or at the enclosing body's
        /// '}'), noting a lone string literal and any file-reading function called with a plain path.
        /// </summary>
        private void ParseAttribute(Context context, Token name)
        {
            var lexer = Lexer;
            var attribute = Slice(name);
            var tokens = 0;
            Token? lone = null;
            // Recognises FUNC ( "path" followed by ',' or ')'.
            var callState = 0;
            Token callArgument = default;
            var open = _openBrackets;
            open.Clear();
            while (true)
            {
                var token = lexer.Next();
                if (token.Kind == TokenKind.Eof)
                {
                    if (open.Count > 0)
                    {
                        Problems.Add(new ScanProblem(name.Line, $"unclosed bracket in the value of '{attribute}'"));
                    }
                    break;
                }
                if (open.Count == 0 && token.Kind == TokenKind.Newline)
                {
                    break;
                }
                if (token.Kind == TokenKind.CloseBrace && (open.Count == 0 || open[^1] != TokenKind.CloseBrace))
                {
                    // Most likely the enclosing block's brace: a one-line block `backend "s3" { key = "x" }`, or a
                    // value missing its ')' or ']'. Either way the body gets its brace back.
                    if (open.Count > 0)
                    {
                        Problems.Add(new ScanProblem(name.Line, $"unclosed bracket in the value of '{attribute}'"));
                    }
                    lexer.PushBack(token);
                    break;
                }
                if (token.Kind == TokenKind.Newline)
                {
                    continue;
                }

                tokens++;
                lone = tokens == 1 ? token : null;
                switch (token.Kind)
                {
                    case TokenKind.OpenBrace:
                        open.Add(TokenKind.CloseBrace);
                        break;
                    case TokenKind.OpenParen:
                        open.Add(TokenKind.CloseParen);
                        break;
                    case TokenKind.OpenBracket:
                        open.Add(TokenKind.CloseBracket);
                        break;
                    case TokenKind.CloseBrace or TokenKind.CloseParen or TokenKind.CloseBracket:
                        if (open.Count == 0 || open[^1] != token.Kind)
                        {
                            // A stray closer must not make the rest of the file look like one long expression.
                            Problems.Add(new ScanProblem(token.Line, $"unexpected '{Slice(token)}'"));
                            break;
                        }
                        open.RemoveAt(open.Count - 1);
                        break;
                }

                callState = (callState, token.Kind) switch
                {
                    (_, TokenKind.Identifier) when HclLexer.IsReadFunction(Slice(token)) => 1,
                    (1, TokenKind.OpenParen) => 2,
                    (2, TokenKind.String) => 3,
                    (3, TokenKind.Comma or TokenKind.CloseParen) => 4,
                    _ => 0,
                };
                if (callState == 3)
                {
                    callArgument = token;
                }
                else if (callState == 4)
                {
                    AddRead(callArgument);
                    callState = 0;
                }
            }

            foreach (var templateRead in lexer.TemplateReads)
            {
                AddRead(templateRead);
            }
            lexer.TemplateReads.Clear();

            if (context == Context.Module && attribute.SequenceEqual("source"))
            {
                _moduleSourceSeen = true;
                if (lone is { Kind: TokenKind.String, HasInterpolation: false } literal)
                {
                    _moduleSource = StringValue(literal);
                }
                else
                {
                    Problems.Add(new ScanProblem(name.Line, "module source must be a literal string"));
                }
            }
            else if (context == Context.Terraform && attribute.SequenceEqual("required_version"))
            {
                if (lone is { Kind: TokenKind.String, HasInterpolation: false } literal)
                {
                    RequiredVersion = StringValue(literal);
                }
                else
                {
                    Problems.Add(new ScanProblem(name.Line, "required_version must be a literal string"));
                }
            }
        }

        private void AddRead(Token argument)
        {
            var content = text.AsSpan(argument.Start, argument.End - argument.Start);
            ReadBase readBase;
            if (!argument.HasInterpolation)
            {
                readBase = ReadBase.ProjectDirectory;
            }
            else if (TryStripPrefix(ref content, "${path.module}"))
            {
                readBase = ReadBase.ModuleDirectory;
            }
            else if (TryStripPrefix(ref content, "${path.root}") || TryStripPrefix(ref content, "${path.cwd}"))
            {
                readBase = ReadBase.ProjectDirectory;
            }
            else
            {
                return; // computed path: cannot be known without evaluating the configuration
            }
            if (content.Contains("${", StringComparison.Ordinal) || content.Contains("%{", StringComparison.Ordinal))
            {
                return;
            }
            var path = argument.HasEscape ? Unescape(content) : content.ToString();
            if (path.Length == 0 || path[0] == '/' || path.Contains(':', StringComparison.Ordinal))
            {
                return; // absolute paths are outside the repository
            }
            Reads.Add(new FileRead(path, readBase, argument.Line));
        }

        private static bool TryStripPrefix(ref ReadOnlySpan<char> content, string prefix)
        {
            if (!content.StartsWith(prefix, StringComparison.Ordinal))
            {
                return false;
            }
            content = content[prefix.Length..].TrimStart('/');
            return true;
        }

        private static bool IsLocalSource(string source) =>
            source.StartsWith("./", StringComparison.Ordinal) || source.StartsWith("../", StringComparison.Ordinal) ||
            source.StartsWith(".\\", StringComparison.Ordinal) || source.StartsWith("..\\", StringComparison.Ordinal);

        private void SkipToEndOfLine()
        {
            var lexer = Lexer;
            while (true)
            {
                var token = lexer.Next();
                if (token.Kind is TokenKind.Newline or TokenKind.Eof)
                {
                    return;
                }
            }
        }

        private ReadOnlySpan<char> Slice(Token token) => text.AsSpan(token.Start, token.End - token.Start);

        private string LabelText(Token label) => label.Kind == TokenKind.String ? StringValue(label) : Slice(label).ToString();

        private string StringValue(Token token)
        {
            var content = Slice(token);
            return token.HasEscape ? Unescape(content) : content.ToString();
        }

        private static string Unescape(ReadOnlySpan<char> content)
        {
            var builder = new System.Text.StringBuilder(content.Length);
            for (var i = 0; i < content.Length; i++)
            {
                var c = content[i];
                if (c == '\\' && i + 1 < content.Length)
                {
                    i++;
                    builder.Append(content[i] switch { 'n' => '\n', 't' => '\t', 'r' => '\r', var other => other });
                }
                else if (c is '$' or '%' && i + 2 < content.Length && content[i + 1] == c && content[i + 2] == '{')
                {
                    builder.Append(c).Append('{');
                    i += 2;
                }
                else
                {
                    builder.Append(c);
                }
            }
            return builder.ToString();
        }
    }
}
