using System.Globalization;
using System.Security.Cryptography;

namespace StorSharp.Iscsi.Login;

/// <summary>CHAP digest algorithms by their CHAP_A number (IANA PPP authentication algorithms; RFC 7143 §12.1.3).</summary>
internal enum ChapAlgorithm
{
    Md5 = 5,
    Sha1 = 6,
    Sha256 = 7,
}

/// <summary>The CHAP arithmetic of RFC 1994 as iSCSI uses it (RFC 7143 §12.1.3): response = H(id || secret || challenge).</summary>
internal static class Chap
{
    /// <summary>The algorithms this target accepts, most preferred first is decided by the initiator's order.</summary>
    public static bool IsSupported(int algorithm) => algorithm is (int)ChapAlgorithm.Md5 or (int)ChapAlgorithm.Sha1 or (int)ChapAlgorithm.Sha256;

    /// <summary>The digest length, also the challenge length this target sends.</summary>
    public static int DigestLength(ChapAlgorithm algorithm) => algorithm switch
    {
        ChapAlgorithm.Md5 => 16,
        ChapAlgorithm.Sha1 => 20,
        ChapAlgorithm.Sha256 => 32,
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
    };

    /// <summary>Computes H(id || secret || challenge).</summary>
    public static byte[] Response(ChapAlgorithm algorithm, byte id, ReadOnlySpan<byte> secret, ReadOnlySpan<byte> challenge)
    {
        var input = new byte[1 + secret.Length + challenge.Length];
        input[0] = id;
        secret.CopyTo(input.AsSpan(1));
        challenge.CopyTo(input.AsSpan(1 + secret.Length));
        return algorithm switch
        {
            ChapAlgorithm.Md5 => MD5.HashData(input),
            ChapAlgorithm.Sha1 => SHA1.HashData(input),
            ChapAlgorithm.Sha256 => SHA256.HashData(input),
            _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
        };
    }

    /// <summary>Decodes a binary value: <c>0x</c> hex or <c>0b</c> base64 (RFC 7143 §6.1).</summary>
    public static bool TryDecodeBinary(string value, out byte[] bytes)
    {
        bytes = [];
        if (value.Length < 3 || value[0] != '0') return false;
        char kind = char.ToLowerInvariant(value[1]);
        var body = value.AsSpan(2);
        try
        {
            if (kind == 'x')
            {
                if (body.Length % 2 == 1) { bytes = Convert.FromHexString("0" + body.ToString()); return true; }
                bytes = Convert.FromHexString(body);
                return true;
            }
            if (kind == 'b') { bytes = Convert.FromBase64String(body.ToString()); return true; }
        }
        catch (FormatException) { }
        return false;
    }

    /// <summary>Encodes a binary value as <c>0x</c> hex.</summary>
    public static string EncodeHex(ReadOnlySpan<byte> bytes) => "0x" + Convert.ToHexStringLower(bytes);

    /// <summary>Parses a numerical value: decimal, <c>0x</c> hex (RFC 7143 §6.1 numerical values).</summary>
    public static bool TryParseNumber(string value, out long number)
    {
        number = 0;
        if (value.Length == 0 || value.Length > 20) return false;
        if (value.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return long.TryParse(value.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out number) && number >= 0;
        foreach (char c in value) if (c is < '0' or > '9') return false;
        return long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out number);
    }

    /// <summary>Constant-time comparison of responses.</summary>
    public static bool Equal(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => CryptographicOperations.FixedTimeEquals(a, b);
}
