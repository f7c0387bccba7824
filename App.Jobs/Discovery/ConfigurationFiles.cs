namespace Ensemble.Jobs.Discovery;

/// <summary>
/// Which files hold Terraform/OpenTofu configuration and how to scan them: <c>.tf</c> and <c>.tofu</c> are HCL
/// (<see cref="HclScanner"/>), <c>.tf.json</c> and <c>.tofu.json</c> are JSON (<see cref="JsonConfigScanner"/>).
/// </summary>
public static class ConfigurationFiles
{
    /// <summary>True for <c>*.tf</c>, <c>*.tofu</c>, <c>*.tf.json</c>, <c>*.tofu.json</c>.</summary>
    public static bool IsConfiguration(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return path.EndsWith(".tf", StringComparison.Ordinal) || path.EndsWith(".tofu", StringComparison.Ordinal) || IsJson(path);
    }

    /// <summary>True for the JSON syntax: <c>*.tf.json</c>, <c>*.tofu.json</c>.</summary>
    public static bool IsJson(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return path.EndsWith(".tf.json", StringComparison.Ordinal) || path.EndsWith(".tofu.json", StringComparison.Ordinal);
    }

    /// <summary>The facts of one configuration file, scanned by the syntax its name says.</summary>
    public static HclFacts Scan(string path, string text) => IsJson(path) ? JsonConfigScanner.Scan(text) : HclScanner.Scan(text);

    /// <summary>
    /// A key for facts cached by git blob id: the same blob scans differently as HCL and as JSON (an empty file is
    /// valid HCL, invalid JSON), so JSON files get their own key.
    /// </summary>
    public static string FactsKey(string path, string blobId) => IsJson(path) ? blobId + ".json" : blobId;

    /// <summary>
    /// True when OpenTofu ignores this file because a <c>.tofu</c> twin exists in the same directory:
    /// <c>x.tf</c> when <c>x.tofu</c> exists, <c>x.tf.json</c> when <c>x.tofu.json</c> exists.
    /// </summary>
    internal static bool IsShadowed(string path, Func<string, bool> exists)
    {
        if (path.EndsWith(".tf", StringComparison.Ordinal))
        {
            return exists(string.Concat(path.AsSpan(0, path.Length - ".tf".Length), ".tofu"));
        }
        if (path.EndsWith(".tf.json", StringComparison.Ordinal))
        {
            return exists(string.Concat(path.AsSpan(0, path.Length - ".tf.json".Length), ".tofu.json"));
        }
        return false;
    }
}
