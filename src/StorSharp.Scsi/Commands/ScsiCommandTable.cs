namespace StorSharp.Scsi;

/// <summary>What looking up a CDB in a <see cref="ScsiCommandTable"/> found.</summary>
public enum CommandLookup
{
    /// <summary>The command is supported.</summary>
    Found,
    /// <summary>No command with this opcode: INVALID COMMAND OPERATION CODE, field pointer to byte 0.</summary>
    UnknownOpcode,
    /// <summary>The opcode has service actions but not this one: INVALID FIELD IN CDB, field pointer to byte 1 bit 4.</summary>
    UnknownServiceAction,
}

/// <summary>
/// A device type's opcode table, built from a list of <see cref="ScsiCommand"/> rows keyed by
/// explicit opcode and service action. Lookup is two array indexings; the table is immutable
/// once built and shared by every request.
/// </summary>
public sealed class ScsiCommandTable
{
    private readonly ScsiCommand?[] _byOpcode = new ScsiCommand?[256];
    private readonly ScsiCommand?[]?[] _byServiceAction = new ScsiCommand?[]?[256];
    private readonly ScsiCommand[] _all;

    /// <summary>Builds the table; two rows with the same opcode and service action are an error.</summary>
    /// <exception cref="ArgumentException">A duplicate row, or an opcode used both with and without service actions.</exception>
    internal ScsiCommandTable(IEnumerable<ScsiCommand> commands)
    {
        var all = new List<ScsiCommand>();
        foreach (var c in commands)
        {
            if (c.ServiceAction is { } sa)
            {
                if (_byOpcode[c.Opcode] is not null) throw new ArgumentException($"{c}: opcode {c.Opcode:X2}h is already used without a service action.");
                var row = _byServiceAction[c.Opcode] ??= new ScsiCommand?[32];
                if (row[sa] is not null) throw new ArgumentException($"{c}: duplicate service action.");
                row[sa] = c;
            }
            else
            {
                if (_byOpcode[c.Opcode] is not null || _byServiceAction[c.Opcode] is not null) throw new ArgumentException($"{c}: duplicate opcode.");
                _byOpcode[c.Opcode] = c;
            }
            all.Add(c);
        }
        _all = [.. all.OrderBy(c => c.Opcode).ThenBy(c => c.ServiceAction ?? 0)];
    }

    /// <summary>Every command, by opcode then service action (the order REPORT SUPPORTED OPERATION CODES lists them).</summary>
    public IReadOnlyList<ScsiCommand> Commands => _all;

    /// <summary>True when <paramref name="opcode"/> has service actions in this table.</summary>
    public bool HasServiceActions(byte opcode) => _byServiceAction[opcode] is not null;

    /// <summary>Finds the row for a CDB.</summary>
    public CommandLookup Find(ReadOnlySpan<byte> cdb, out ScsiCommand? command)
    {
        byte opcode = cdb[0];
        command = _byOpcode[opcode];
        if (command is not null) return CommandLookup.Found;
        var row = _byServiceAction[opcode];
        if (row is null) return CommandLookup.UnknownOpcode;
        command = cdb.Length > 1 ? row[cdb[1] & 0x1F] : null;
        return command is null ? CommandLookup.UnknownServiceAction : CommandLookup.Found;
    }

    /// <summary>True when some service action of <paramref name="opcode"/> is available on <paramref name="unit"/>.</summary>
    internal bool AnyServiceActionAvailable(byte opcode, DiskUnit unit)
    {
        var row = _byServiceAction[opcode];
        if (row is null) return false;
        foreach (var c in row) if (c is not null && c.IsAvailableOn(unit)) return true;
        return false;
    }

    /// <summary>Finds the row for an opcode and service action (null for none).</summary>
    public ScsiCommand? Find(byte opcode, byte? serviceAction) =>
        serviceAction is { } sa ? (sa < 32 ? _byServiceAction[opcode]?[sa] : null) : _byOpcode[opcode];
}
