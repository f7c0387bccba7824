using System.Text;
using System.Text.Json;

namespace Ensemble.Jobs.Discovery;

/// <summary>
/// The facts of a configuration file in Terraform's JSON syntax (<c>*.tf.json</c>, <c>*.tofu.json</c>):
/// <c>{"terraform": {"backend": {"s3": {}}}}</c>, <c>{"module": {"x": {"source": "../m"}}}</c>. As in HCL's JSON
/// mapping, a block may be given as an object or an array of objects at any level, and string values are templates
/// (so <c>"${file(\"x\")}"</c> reads a file). Never throws on bad input: invalid JSON is one problem with its line.
/// </summary>
public static class JsonConfigScanner
{
    // Deeper than any real configuration; the reader throws past it, reported as a problem.
    private const int MaxDepth = 64;

    public static HclFacts Scan(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var problems = new List<ScanProblem>();
        Node root;
        try
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            var reader = new Utf8JsonReader(bytes, new JsonReaderOptions
            {
                MaxDepth = MaxDepth,
                CommentHandling = JsonCommentHandling.Skip,
            });
            var lines = new LineIndex(bytes);
            if (!reader.Read())
            {
                throw new JsonException("empty file", null, 0, 0);
            }
            root = Node.Parse(ref reader, lines);
            while (reader.Read())
            {
                // Reading on makes the reader reject anything after the root value.
            }
        }
        catch (JsonException e)
        {
            problems.Add(new ScanProblem((int)(e.LineNumber ?? 0) + 1, $"invalid JSON: {FirstSentence(e.Message)}"));
            return new HclFacts(null, [], null, [], problems);
        }

        var state = new State(problems);
        if (root.Properties is not { } top)
        {
            problems.Add(new ScanProblem(root.Line, "the root of a JSON configuration must be an object"));
            return state.Facts();
        }
        foreach (var (name, value) in top)
        {
            switch (name)
            {
                case "terraform":
                    foreach (var body in Bodies(value, problems, "terraform"))
                    {
                        state.Terraform(body);
                    }
                    break;
                case "module":
                    foreach (var byName in Bodies(value, problems, "module"))
                    {
                        foreach (var (moduleName, moduleValue) in byName.Properties!)
                        {
                            foreach (var module in Bodies(moduleValue, problems, $"module '{moduleName}'"))
                            {
                                state.Module(moduleName, module);
                            }
                        }
                    }
                    break;
            }
        }
        state.CollectReads(root);
        return state.Facts();
    }

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(". ", StringComparison.Ordinal);
        return end < 0 ? message.TrimEnd('.') : message[..end];
    }

    /// <summary>A block body given as an object, or several as an array of objects; anything else is a problem.</summary>
    private static IEnumerable<Node> Bodies(Node value, List<ScanProblem> problems, string what)
    {
        if (value.Properties is not null)
        {
            yield return value;
            yield break;
        }
        if (value.Items is { } items)
        {
            foreach (var item in items)
            {
                if (item.Properties is not null)
                {
                    yield return item;
                }
                else
                {
                    problems.Add(new ScanProblem(item.Line, $"{what} must be an object"));
                }
            }
            yield break;
        }
        problems.Add(new ScanProblem(value.Line, $"{what} must be an object"));
    }

    private sealed class State(List<ScanProblem> problems)
    {
        private readonly List<ModuleCall> _modules = [];
        private readonly List<FileRead> _reads = [];
        private BackendBlock? _backend;
        private string? _requiredVersion;

        public HclFacts Facts() => new(_backend, _modules, _requiredVersion, _reads, problems);

        public void Terraform(Node body)
        {
            foreach (var (name, value) in body.Properties!)
            {
                switch (name)
                {
                    case "backend":
                        foreach (var byType in Bodies(value, problems, "backend"))
                        {
                            foreach (var (type, config) in byType.Properties!)
                            {
                                SetBackend(type, config.Line);
                            }
                        }
                        break;
                    case "cloud":
                        SetBackend("cloud", value.Line);
                        break;
                    case "required_version":
                        if (value.Literal is { } version)
                        {
                            _requiredVersion = version;
                        }
                        else
                        {
                            problems.Add(new ScanProblem(value.Line, "required_version must be a literal string"));
                        }
                        break;
                }
            }
        }

        public void Module(string name, Node body)
        {
            var source = body.Properties!.FirstOrDefault(p => p.Name == "source");
            if (source.Value is null)
            {
                problems.Add(new ScanProblem(body.Line, $"module '{name}' has no source"));
            }
            else if (source.Value.Literal is { } literal)
            {
                _modules.Add(new ModuleCall(name, literal, IsLocalSource(literal), body.Line));
            }
            else
            {
                problems.Add(new ScanProblem(source.Value.Line, "module source must be a literal string"));
            }
        }

        /// <summary>File reads in every string value's interpolations, scanned as HCL templates.</summary>
        public void CollectReads(Node node)
        {
            if (node.Text is { } text)
            {
                foreach (var read in TemplateReads(text))
                {
                    _reads.Add(read with { Line = node.Line });
                }
            }
            foreach (var (name, value) in node.Properties ?? [])
            {
                if (name != "//") // a comment property in Terraform's JSON syntax
                {
                    CollectReads(value);
                }
            }
            foreach (var item in node.Items ?? [])
            {
                CollectReads(item);
            }
        }

        private void SetBackend(string type, int line)
        {
            if (_backend is { } existing)
            {
                problems.Add(new ScanProblem(line, $"duplicate backend configuration (first at line {existing.Line})"));
                return;
            }
            _backend = new BackendBlock(type, line);
        }
    }

    /// <summary>
    /// The reads of a JSON string's interpolations: each <c>${…}</c> becomes an HCL attribute value of its own, so
    /// the HCL scanner's rules apply unchanged (<c>${path.module}</c>, computed paths skipped, …).
    /// </summary>
    private static IReadOnlyList<FileRead> TemplateReads(string text)
    {
        if (!text.Contains("${", StringComparison.Ordinal))
        {
            return [];
        }
        var hcl = new StringBuilder();
        var i = 0;
        while ((i = text.IndexOf("${", i, StringComparison.Ordinal)) >= 0)
        {
            if (i > 0 && text[i - 1] == '$')
            {
                i += 2; // "$${" is a literal "${"
                continue;
            }
            var end = InterpolationEnd(text, i + 2);
            if (end < 0)
            {
                break; // unterminated: nothing more to learn
            }
            // One line per attribute: newlines inside the interpolation would end it early.
            hcl.Append("a = \"").Append(text[i..(end + 1)].Replace('\n', ' ')).Append("\"\n");
            i = end + 1;
        }
        return hcl.Length == 0 ? [] : HclScanner.Scan(hcl.ToString()).ReadFiles;
    }

    /// <summary>Index of the '}' closing an interpolation whose body starts at <paramref name="start"/>, or -1.</summary>
    private static int InterpolationEnd(string text, int start)
    {
        var depth = 1;
        var inString = false;
        for (var i = start; i < text.Length; i++)
        {
            var c = text[i];
            if (inString)
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == '"')
                {
                    inString = false;
                }
                continue;
            }
            switch (c)
            {
                case '"':
                    inString = true;
                    break;
                case '{':
                    depth++;
                    break;
                case '}' when --depth == 0:
                    return i;
            }
        }
        return -1;
    }

    private static bool IsLocalSource(string source) =>
        source.StartsWith("./", StringComparison.Ordinal) || source.StartsWith("../", StringComparison.Ordinal) ||
        source.StartsWith(".\\", StringComparison.Ordinal) || source.StartsWith("..\\", StringComparison.Ordinal);

    /// <summary>Line numbers (1-based) of byte offsets.</summary>
    private sealed class LineIndex(byte[] bytes)
    {
        private readonly List<int> _starts = Starts(bytes);

        public int LineOf(long offset)
        {
            var index = _starts.BinarySearch((int)offset);
            return (index < 0 ? ~index - 1 : index) + 1;
        }

        private static List<int> Starts(byte[] bytes)
        {
            var starts = new List<int> { 0 };
            for (var i = 0; i < bytes.Length; i++)
            {
                if (bytes[i] == '\n')
                {
                    starts.Add(i + 1);
                }
            }
            return starts;
        }
    }

    /// <summary>A JSON value with the line it starts on: an object (properties in order), an array, or a scalar.</summary>
    private sealed class Node
    {
        public int Line { get; private init; }

        public List<(string Name, Node Value)>? Properties { get; private init; }

        public List<Node>? Items { get; private init; }

        /// <summary>A string value's text.</summary>
        public string? Text { get; private init; }

        /// <summary>A string value without interpolation: what Terraform takes literally.</summary>
        public string? Literal => Text is { } text && !text.Contains("${", StringComparison.Ordinal) && !text.Contains("%{", StringComparison.Ordinal) ? text : null;

        /// <summary>Parses the value the reader is on, leaving the reader on its last token.</summary>
        public static Node Parse(ref Utf8JsonReader reader, LineIndex lines)
        {
            var line = lines.LineOf(reader.TokenStartIndex);
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                    var properties = new List<(string, Node)>();
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        var name = reader.GetString()!;
                        reader.Read();
                        properties.Add((name, Parse(ref reader, lines)));
                    }
                    return new Node { Line = line, Properties = properties };
                case JsonTokenType.StartArray:
                    var items = new List<Node>();
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        items.Add(Parse(ref reader, lines));
                    }
                    return new Node { Line = line, Items = items };
                case JsonTokenType.String:
                    return new Node { Line = line, Text = reader.GetString() };
                default:
                    return new Node { Line = line };
            }
        }
    }
}
