namespace StorSharp.Images.Vmdk;

/// <summary>Extent access in a VMDK descriptor.</summary>
internal enum VmdkAccess { ReadWrite, ReadOnly, NoAccess }

/// <summary>Extent types StorSharp reads (VMware Virtual Disk Format 1.1, "Extent Descriptions").</summary>
internal enum VmdkExtentType { Flat, Sparse, Zero }

/// <summary>One extent line: <c>RW 2048 FLAT "disk-flat.vmdk" 0</c>.</summary>
/// <param name="Access">RW, RDONLY or NOACCESS.</param>
/// <param name="Sectors">The extent's size in 512-byte sectors.</param>
/// <param name="Type">FLAT (or VMFS), SPARSE, ZERO.</param>
/// <param name="FileName">The extent file, relative to the descriptor; null for ZERO.</param>
/// <param name="Offset">For FLAT: the sector in the file where the extent's data starts.</param>
internal readonly record struct VmdkExtentLine(VmdkAccess Access, long Sectors, VmdkExtentType Type, string? FileName, long Offset);

/// <summary>
/// The VMDK text descriptor: <c>key=value</c> lines (createType, CID, parentCID, parentFileNameHint)
/// and extent lines. Parsing is pure; errors name the line.
/// </summary>
internal sealed record VmdkDescriptor(string CreateType, IReadOnlyList<VmdkExtentLine> Extents, string? ParentFileNameHint, string? ParentCid)
{
    /// <summary>Upper bound on a descriptor's size: real ones are a few hundred bytes.</summary>
    public const int MaxLength = 1 << 20;

    /// <summary>The descriptor names a parent (a delta disk).</summary>
    public bool HasParent => ParentFileNameHint is not null && ParentCid is not null && !ParentCid.Equals("ffffffff", StringComparison.OrdinalIgnoreCase);

    /// <summary>Parses descriptor text; null with <paramref name="error"/> when it is malformed or uses what StorSharp does not read.</summary>
    public static VmdkDescriptor? TryParse(string text, out string error)
    {
        error = "";
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var extents = new List<VmdkExtentLine>();
        int lineNumber = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNumber++;
            string line = rawLine.Trim('\r', ' ', '\t', '\0');
            if (line.Length == 0 || line[0] == '#') continue;
            if (line.StartsWith("RW ", StringComparison.Ordinal) || line.StartsWith("RDONLY ", StringComparison.Ordinal) || line.StartsWith("NOACCESS ", StringComparison.Ordinal))
            {
                var extent = TryParseExtent(line, out string why);
                if (extent is null) { error = $"descriptor line {lineNumber} (\"{line}\"): {why}"; return null; }
                extents.Add(extent.Value);
                continue;
            }
            int eq = line.IndexOf('=');
            if (eq <= 0) { error = $"descriptor line {lineNumber} (\"{line}\") is neither key=value nor an extent"; return null; }
            values[line[..eq].Trim()] = line[(eq + 1)..].Trim().Trim('"');
        }
        if (!values.TryGetValue("createType", out var createType)) { error = "descriptor has no createType"; return null; }
        if (extents.Count == 0) { error = "descriptor lists no extents"; return null; }
        values.TryGetValue("parentFileNameHint", out var parent);
        values.TryGetValue("parentCID", out var parentCid);
        return new VmdkDescriptor(createType, extents, parent, parentCid);
    }

    private static VmdkExtentLine? TryParseExtent(string line, out string error)
    {
        error = "";
        // ACCESS SIZE TYPE ["FILENAME" [OFFSET]]; the file name is quoted and may contain spaces.
        int quote = line.IndexOf('"');
        string head = quote < 0 ? line : line[..quote];
        string? fileName = null;
        string tail = "";
        if (quote >= 0)
        {
            int close = line.IndexOf('"', quote + 1);
            if (close < 0) { error = "unterminated file name"; return null; }
            fileName = line[(quote + 1)..close];
            tail = line[(close + 1)..].Trim();
        }
        var parts = head.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 3) { error = "expected ACCESS SIZE TYPE"; return null; }
        var access = parts[0] switch { "RW" => VmdkAccess.ReadWrite, "RDONLY" => VmdkAccess.ReadOnly, _ => VmdkAccess.NoAccess };
        if (!long.TryParse(parts[1], out long sectors) || sectors <= 0 || sectors > (1L << 40)) { error = $"size \"{parts[1]}\" is not a sector count"; return null; }
        VmdkExtentType type;
        switch (parts[2])
        {
            case "FLAT" or "VMFS": type = VmdkExtentType.Flat; break;
            case "SPARSE": type = VmdkExtentType.Sparse; break;
            case "ZERO": type = VmdkExtentType.Zero; break;
            default: error = $"extent type {parts[2]} is not supported (FLAT, VMFS, SPARSE and ZERO are)"; return null;
        }
        if (type != VmdkExtentType.Zero && string.IsNullOrEmpty(fileName)) { error = "no file name"; return null; }
        long offset = 0;
        if (tail.Length > 0 && (!long.TryParse(tail, out offset) || offset < 0)) { error = $"offset \"{tail}\" is not a sector number"; return null; }
        return new VmdkExtentLine(access, sectors, type, fileName, offset);
    }
}
