namespace Ensemble.Jobs.Core;

/// <summary>
/// Replaces known secret values with <c>***</c> in text bound for logs, artifacts and check runs. Pure and
/// thread-safe: a masker is built once from the secrets known at that point (configuration, a run's tokens).
/// </summary>
public sealed class SecretMasker
{
    private readonly string[] _secrets;

    public SecretMasker(IEnumerable<string?> secrets)
    {
        // Longest first, so a secret that contains another is masked whole. Very short values would mask
        // ordinary words and protect nothing, so they are not treated as secrets.
        _secrets = secrets
            .Where(s => !string.IsNullOrEmpty(s) && s.Length >= 6)
            .SelectMany(s => s!.Contains('\n', StringComparison.Ordinal) ? s.Split('\n').Select(l => l.Trim()).Append(s) : [s])
            .Where(s => s.Length >= 6)
            .Distinct(StringComparer.Ordinal)
            .OrderByDescending(s => s.Length)
            .ToArray();
    }

    public static SecretMasker None { get; } = new([]);

    public SecretMasker With(IEnumerable<string?> more) => new(_secrets.Concat(more));

    public string Mask(string text)
    {
        if (_secrets.Length == 0 || string.IsNullOrEmpty(text))
        {
            return text;
        }

        foreach (var secret in _secrets)
        {
            if (text.Contains(secret, StringComparison.Ordinal))
            {
                text = text.Replace(secret, "***", StringComparison.Ordinal);
            }
        }
        return text;
    }
}
