using System.Buffers;
using System.Text;

namespace StorSharp.Iscsi.Pdu;

/// <summary>Why a text data segment was refused (RFC 7143 §6.1).</summary>
internal enum TextError
{
    None,
    /// <summary>A pair has no '='.</summary>
    MissingEquals,
    /// <summary>A key is empty or longer than 63 bytes.</summary>
    BadKeyLength,
    /// <summary>A value is longer than the limit for its key.</summary>
    ValueTooLong,
    /// <summary>The whole text exceeds the negotiation limit.</summary>
    TextTooLong,
    /// <summary>A key or value holds bytes outside UTF-8 / the iSCSI character set.</summary>
    BadCharacters,
}

/// <summary>
/// Walks <c>key=value\0key=value\0</c> text (RFC 7143 §6.1) without allocating. Keys are at most
/// 63 bytes; values at most <see cref="MaxValueLength"/> bytes unless the key is a CHAP binary
/// value, whose encoding may be longer (§12.1.3).
/// </summary>
internal ref struct TextKeyReader
{
    /// <summary>The longest key name (RFC 7143 §6.1).</summary>
    public const int MaxKeyLength = 63;
    /// <summary>The longest ordinary value (RFC 7143 §6.1: 255 bytes).</summary>
    public const int MaxValueLength = 255;
    /// <summary>The longest encoded binary value accepted (CHAP_C / CHAP_R, 1024 bytes as hex).</summary>
    public const int MaxBinaryValueLength = 2 + 2 * 1024;

    private ReadOnlySpan<byte> _rest;

    public TextKeyReader(ReadOnlySpan<byte> text) { _rest = text; Error = TextError.None; Key = default; Value = default; }

    public ReadOnlySpan<byte> Key { get; private set; }
    public ReadOnlySpan<byte> Value { get; private set; }
    public TextError Error { get; private set; }

    /// <summary>Moves to the next pair; false at the end or on an error (see <see cref="Error"/>).</summary>
    public bool MoveNext()
    {
        while (!_rest.IsEmpty && _rest[0] == 0) _rest = _rest[1..]; // padding / empty entries
        if (_rest.IsEmpty) return false;
        int end = _rest.IndexOf((byte)0);
        var pair = end < 0 ? _rest : _rest[..end];
        _rest = end < 0 ? default : _rest[(end + 1)..];
        int eq = pair.IndexOf((byte)'=');
        if (eq < 0) { Error = TextError.MissingEquals; return false; }
        Key = pair[..eq];
        Value = pair[(eq + 1)..];
        if (Key.IsEmpty || Key.Length > MaxKeyLength) { Error = TextError.BadKeyLength; return false; }
        int limit = Key.StartsWith("CHAP_"u8) ? MaxBinaryValueLength : MaxValueLength;
        if (Key.SequenceEqual("SendTargets"u8) || Key.SequenceEqual("TargetAddress"u8)) limit = MaxValueLength;
        if (Value.Length > limit) { Error = TextError.ValueTooLong; return false; }
        return true;
    }

    /// <summary>Parses a whole text into an ordered list of pairs (login and discovery, not the data path).</summary>
    public static TextError Parse(ReadOnlySpan<byte> text, List<KeyValuePair<string, string>> pairs, int maxTextLength = 65536)
    {
        if (text.Length > maxTextLength) return TextError.TextTooLong;
        var reader = new TextKeyReader(text);
        while (reader.MoveNext())
        {
            string key, value;
            try
            {
                key = Utf8Strict.GetString(reader.Key);
                value = Utf8Strict.GetString(reader.Value);
            }
            catch (DecoderFallbackException) { return TextError.BadCharacters; }
            pairs.Add(new(key, value));
        }
        return reader.Error;
    }

    private static readonly UTF8Encoding Utf8Strict = new(false, throwOnInvalidBytes: true);
}

/// <summary>Writes <c>key=value\0</c> pairs into a buffer.</summary>
internal static class TextKeyWriter
{
    /// <summary>Appends one pair.</summary>
    public static void Append(IBufferWriter<byte> writer, string key, string value)
    {
        int length = Encoding.UTF8.GetByteCount(key) + 1 + Encoding.UTF8.GetByteCount(value) + 1;
        var span = writer.GetSpan(length);
        int n = Encoding.UTF8.GetBytes(key, span);
        span[n++] = (byte)'=';
        n += Encoding.UTF8.GetBytes(value, span[n..]);
        span[n++] = 0;
        writer.Advance(n);
    }

    /// <summary>Serialises pairs in order.</summary>
    public static byte[] ToBytes(IEnumerable<KeyValuePair<string, string>> pairs)
    {
        var buffer = new ArrayBufferWriter<byte>();
        foreach (var (k, v) in pairs) Append(buffer, k, v);
        return buffer.WrittenSpan.ToArray();
    }
}
