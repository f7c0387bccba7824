using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Ensemble.Jobs.Core;

/// <summary>What a link token says once checked: the artifact it grants, or why it grants nothing.</summary>
public abstract record LinkCheck
{
    private LinkCheck()
    {
    }

    /// <summary>Signed by this Ensemble and not expired: the holder may see <paramref name="ArtifactKey"/>.</summary>
    public sealed record Valid(string ArtifactKey) : LinkCheck;

    /// <summary>Genuine, but past its expiry: the holder should fetch a fresh link.</summary>
    public sealed record Expired(DateTimeOffset ExpiredAt) : LinkCheck;

    /// <summary>Malformed, tampered with, or signed with another key.</summary>
    public sealed record Invalid : LinkCheck
    {
        public static Invalid Instance { get; } = new();
    }
}

/// <summary>
/// Signed, expiring link tokens for stored artifacts. A token is the base64url of
/// <c>version (1 byte) ‖ expiry (unix seconds, 8 bytes big-endian) ‖ artifact key (UTF-8) ‖ HMAC-SHA256 (32 bytes)</c>,
/// the MAC taken over everything before it. Nothing is stored server-side, so there is nothing to list or guess:
/// only a holder of a token minted with the key can name an artifact. Pure: the caller passes the key and the time.
/// </summary>
public static class SignedLinks
{
    private const byte Version = 1;
    private const int ExpirySize = 8;
    private const int MacSize = 32;
    private const int HeaderSize = 1 + ExpirySize;

    // A fixed label separates this key from any other use of the same secret (the webhook HMAC above all).
    private static readonly byte[] KeyInfo = "ensemble/full-plan-links/v1"u8.ToArray();

    /// <summary>
    /// A 256-bit signing key from configuration text (the App's webhook secret, or <c>Ensemble:LinkSigningKey</c>)
    /// through HKDF-SHA256. Changing that text invalidates every link made with the old one.
    /// </summary>
    public static byte[] DeriveKey(string secretMaterial)
    {
        ArgumentException.ThrowIfNullOrEmpty(secretMaterial);
        return HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secretMaterial), MacSize, salt: [], info: KeyInfo);
    }

    /// <summary>A URL-safe token (base64url, no padding) granting <paramref name="artifactKey"/> until <paramref name="expires"/> (to the second).</summary>
    public static string Create(byte[] key, string artifactKey, DateTimeOffset expires)
    {
        CheckKey(key);
        ArgumentException.ThrowIfNullOrEmpty(artifactKey);
        var keyBytes = Encoding.UTF8.GetBytes(artifactKey);
        var token = new byte[HeaderSize + keyBytes.Length + MacSize];
        token[0] = Version;
        BinaryPrimitives.WriteInt64BigEndian(token.AsSpan(1, ExpirySize), expires.ToUnixTimeSeconds());
        keyBytes.CopyTo(token, HeaderSize);
        var signed = token.AsSpan(0, HeaderSize + keyBytes.Length);
        HMACSHA256.HashData(key, signed, token.AsSpan(signed.Length));
        return Base64Url.EncodeToString(token);
    }

    /// <summary>
    /// Checks a token at <paramref name="now"/>. The MAC is checked (in constant time) before anything inside the token is
    /// believed, so a tampered token is <see cref="LinkCheck.Invalid"/> even when its expiry is in the past.
    /// </summary>
    public static LinkCheck Verify(byte[] key, string? token, DateTimeOffset now)
    {
        CheckKey(key);
        if (string.IsNullOrEmpty(token) || token.Length > 4096)
        {
            return LinkCheck.Invalid.Instance;
        }

        byte[] bytes;
        try
        {
            bytes = Base64Url.DecodeFromChars(token);
        }
        catch (FormatException)
        {
            return LinkCheck.Invalid.Instance;
        }

        // The last base64 character can carry unused bits: only the canonical spelling of the bytes is accepted, so
        // changing any character of a token makes it invalid.
        if (bytes.Length <= HeaderSize + MacSize || bytes[0] != Version || !string.Equals(Base64Url.EncodeToString(bytes), token, StringComparison.Ordinal))
        {
            return LinkCheck.Invalid.Instance;
        }

        var signed = bytes.AsSpan(0, bytes.Length - MacSize);
        Span<byte> expected = stackalloc byte[MacSize];
        HMACSHA256.HashData(key, signed, expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, bytes.AsSpan(signed.Length)))
        {
            return LinkCheck.Invalid.Instance;
        }

        var seconds = BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(1, ExpirySize));
        if (seconds < DateTimeOffset.MinValue.ToUnixTimeSeconds() || seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds())
        {
            return LinkCheck.Invalid.Instance;
        }

        var expires = DateTimeOffset.FromUnixTimeSeconds(seconds);
        if (now >= expires)
        {
            return new LinkCheck.Expired(expires);
        }

        string artifactKey;
        try
        {
            artifactKey = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(signed[HeaderSize..]);
        }
        catch (DecoderFallbackException)
        {
            return LinkCheck.Invalid.Instance;
        }

        return new LinkCheck.Valid(artifactKey);
    }

    private static void CheckKey(byte[] key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length < 16)
        {
            throw new ArgumentException($"A link signing key needs at least 16 bytes (has {key.Length}); use {nameof(DeriveKey)}.", nameof(key));
        }
    }
}
