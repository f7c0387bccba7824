using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Ensemble.Jobs.Plans;

/// <summary>
/// SHA-256 over what apply would do, so an identical re-plan is approved automatically (DESIGN.md, "Approval and
/// apply rules"). Only <c>resource_changes</c> and <c>output_changes</c> count; timestamps, versions, prior_state,
/// configuration, planned_values, resource_drift and variables do not.
/// </summary>
public static class PlanFingerprint
{
    // Fixed escaping so the same string always hashes the same way, whatever the input's own escaping was.
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 512 };
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false };

    /// <summary>Lower-case hex SHA-256 of the canonical JSON described in <see cref="WriteCanonical"/>.</summary>
    public static string Compute(PlanDocument plan)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using (var stream = new HashStream(hash))
        using (var writer = new Utf8JsonWriter(stream, WriterOptions))
        {
            WriteCanonical(plan, writer);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// <c>{"output_changes":{name:{…}},"resource_changes":[{…}]}</c> with object keys sorted ordinally, no whitespace
    /// and numbers exactly as Terraform wrote them. Resource changes are sorted by address.
    /// </summary>
    internal static void WriteCanonical(PlanDocument plan, Utf8JsonWriter writer)
    {
        writer.WriteStartObject();

        writer.WriteStartObject("output_changes");
        // No-op outputs are listed for every output on every plan; they change nothing on apply.
        foreach (var output in plan.OutputChanges.Where(o => o.Action != PlanAction.NoOp).OrderBy(o => o.Name, StringComparer.Ordinal))
        {
            writer.WritePropertyName(output.Name);
            writer.WriteStartObject();
            WriteActions(writer, output.Actions);
            WriteValue(writer, "after", output.After);
            WriteValue(writer, "after_sensitive", output.AfterSensitive);
            WriteValue(writer, "after_unknown", output.AfterUnknown);
            WriteValue(writer, "before", output.Before);
            WriteValue(writer, "before_sensitive", output.BeforeSensitive);
            writer.WriteEndObject();
        }

        writer.WriteEndObject();

        writer.WriteStartArray("resource_changes");
        // No-op changes are left out: they do not change what apply does, and Terraform lists every unchanged
        // resource as one, so including them would make the fingerprint move with unrelated refreshes. A no-op
        // that imports or moves an object does change state on apply, so it stays in.
        var changes = plan.ResourceChanges
            .Where(c => c.Action != PlanAction.NoOp || c.IsImport || c.IsMove)
            .OrderBy(c => c.Address, StringComparer.Ordinal);
        foreach (var change in changes)
        {
            writer.WriteStartObject();
            WriteActions(writer, change.Actions);
            writer.WriteString("address", change.Address);
            var values = change.Values; // one scan of the entry for all seven
            WriteValue(writer, "after", change.Json, values.After);
            WriteValue(writer, "after_sensitive", change.Json, values.AfterSensitive);
            WriteValue(writer, "after_unknown", change.Json, values.AfterUnknown);
            WriteValue(writer, "before", change.Json, values.Before);
            WriteValue(writer, "before_sensitive", change.Json, values.BeforeSensitive);
            WriteValue(writer, "importing", change.Json, values.Importing);
            if (change.IsMove)
            {
                writer.WriteString("previous_address", change.PreviousAddress);
            }

            WriteValue(writer, "replace_paths", change.Json, values.ReplacePaths);
            writer.WriteEndObject();
            writer.Flush();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WriteActions(Utf8JsonWriter writer, IReadOnlyList<string> actions)
    {
        writer.WriteStartArray("actions");
        foreach (var action in actions)
        {
            writer.WriteStringValue(action);
        }

        writer.WriteEndArray();
    }

    /// <summary>Absent fields are written as null so "missing" and "null" hash the same, as Terraform means them.</summary>
    private static void WriteValue(Utf8JsonWriter writer, string name, JsonElement value)
    {
        writer.WritePropertyName(name);
        WriteCanonical(writer, value);
    }

    /// <summary>
    /// A resource's value straight from its bytes, through a pooled document returned at once: every resource of the plan
    /// passes through here, and keeping (or leaving to the GC) a parsed copy of each would cost the plan's size again.
    /// </summary>
    private static void WriteValue(Utf8JsonWriter writer, string name, ReadOnlyMemory<byte> json, ValueRange range)
    {
        writer.WritePropertyName(name);
        if (range.Length == 0)
        {
            writer.WriteNullValue();
            return;
        }

        using var document = JsonDocument.Parse(json.Slice(range.Start, range.Length), DocumentOptions);
        WriteCanonical(writer, document.RootElement);
    }

    private static void WriteCanonical(Utf8JsonWriter writer, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in value.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(property.Name);
                    WriteCanonical(writer, property.Value);
                }

                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in value.EnumerateArray())
                {
                    WriteCanonical(writer, item);
                }

                writer.WriteEndArray();
                break;
            case JsonValueKind.String:
                writer.WriteStringValue(value.GetString());
                break;
            case JsonValueKind.Number:
                // As written: 1.0 and 1 stay distinct, and no float rounding can merge two values.
                writer.WriteRawValue(value.GetRawText(), skipInputValidation: true);
                break;
            case JsonValueKind.True:
                writer.WriteBooleanValue(true);
                break;
            case JsonValueKind.False:
                writer.WriteBooleanValue(false);
                break;
            default:
                writer.WriteNullValue();
                break;
        }
    }

    /// <summary>A write-only stream that feeds the hash, so the canonical JSON is never held in memory whole.</summary>
    private sealed class HashStream(IncrementalHash hash) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => hash.AppendData(buffer, offset, count);
        public override void Write(ReadOnlySpan<byte> buffer) => hash.AppendData(buffer);
    }
}
