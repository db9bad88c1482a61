namespace StorSharp.Nvme;

/// <summary>NVM command set I/O opcodes (NVM command set specification §3).</summary>
public static class NvmeOpcodes
{
    /// <summary>Flush.</summary>
    public const byte Flush = 0x00;
    /// <summary>Write.</summary>
    public const byte Write = 0x01;
    /// <summary>Read.</summary>
    public const byte Read = 0x02;
    /// <summary>Compare: the namespace's blocks against the host data (Compare Failure on a difference).</summary>
    public const byte Compare = 0x05;
    /// <summary>Write Zeroes.</summary>
    public const byte WriteZeroes = 0x08;
    /// <summary>Dataset Management (deallocate).</summary>
    public const byte DatasetManagement = 0x09;
    /// <summary>Verify: the blocks are read and checked on the medium; no data moves to the host.</summary>
    public const byte Verify = 0x0C;
}

/// <summary>
/// An I/O submission queue entry (64 bytes in the specification; the fields used here): opcode,
/// command identifier, namespace, the data pointer (PRP1, PRP2) and command dwords 10-15.
/// </summary>
public struct NvmeCommand
{
    /// <summary>The opcode (CDW0 bits 7:0).</summary>
    public byte Opcode;
    /// <summary>The command identifier (CDW0 bits 31:16), echoed in the completion.</summary>
    public ushort CommandId;
    /// <summary>The namespace identifier (1-based).</summary>
    public uint NamespaceId;
    /// <summary>PRP entry 1.</summary>
    public ulong Prp1;
    /// <summary>PRP entry 2, or the PRP list pointer.</summary>
    public ulong Prp2;
    /// <summary>Command dword 10.</summary>
    public uint Cdw10;
    /// <summary>Command dword 11.</summary>
    public uint Cdw11;
    /// <summary>Command dword 12.</summary>
    public uint Cdw12;
    /// <summary>Command dword 13.</summary>
    public uint Cdw13;

    /// <summary>Starting LBA of Read, Write and Write Zeroes (CDW10-11).</summary>
    public readonly ulong StartingLba => Cdw10 | ((ulong)Cdw11 << 32);

    /// <summary>Number of logical blocks of Read, Write and Write Zeroes (CDW12 bits 15:0 are this value minus 1).</summary>
    public readonly int BlockCount => (int)(Cdw12 & 0xFFFF) + 1;

    /// <summary>Force Unit Access (CDW12 bit 30).</summary>
    public readonly bool ForceUnitAccess => (Cdw12 & (1u << 30)) != 0;

    /// <summary>Deallocate, for Write Zeroes (CDW12 bit 25).</summary>
    public readonly bool Deallocate => (Cdw12 & (1u << 25)) != 0;

    /// <summary>Number of Dataset Management ranges (CDW10 bits 7:0 are this value minus 1).</summary>
    public readonly int RangeCount => (int)(Cdw10 & 0xFF) + 1;

    /// <summary>The Dataset Management attribute Deallocate (CDW11 bit 2).</summary>
    public readonly bool AttributeDeallocate => (Cdw11 & 4) != 0;

    /// <summary>A Read or Write of <paramref name="blocks"/> blocks (1 to 65536) at <paramref name="lba"/>.</summary>
    public static NvmeCommand ReadWrite(byte opcode, uint nsid, ulong lba, int blocks, bool fua) => new()
    {
        Opcode = opcode,
        NamespaceId = nsid,
        Cdw10 = (uint)lba,
        Cdw11 = (uint)(lba >> 32),
        Cdw12 = (uint)(blocks - 1) & 0xFFFF | (fua ? 1u << 30 : 0),
    };

    /// <summary>A Verify of <paramref name="blocks"/> blocks (1 to 65536) at <paramref name="lba"/>: no data pointer.</summary>
    public static NvmeCommand Verify(uint nsid, ulong lba, int blocks) => ReadWrite(NvmeOpcodes.Verify, nsid, lba, blocks, fua: false);

    /// <summary>A Write Zeroes of <paramref name="blocks"/> blocks (1 to 65536), deallocating when <paramref name="deallocate"/>.</summary>
    public static NvmeCommand WriteZeroes(uint nsid, ulong lba, int blocks, bool deallocate, bool fua)
    {
        var c = ReadWrite(NvmeOpcodes.WriteZeroes, nsid, lba, blocks, fua);
        if (deallocate) c.Cdw12 |= 1u << 25;
        return c;
    }

    /// <summary>A Dataset Management deallocate of <paramref name="ranges"/> ranges (1 to 256) whose list the PRPs point at.</summary>
    public static NvmeCommand DatasetDeallocate(uint nsid, int ranges) => new()
    {
        Opcode = NvmeOpcodes.DatasetManagement,
        NamespaceId = nsid,
        Cdw10 = (uint)(ranges - 1) & 0xFF,
        Cdw11 = 4,
    };
}

/// <summary>A completion queue entry: which command, and its status.</summary>
/// <param name="CommandId">The command identifier of the submission.</param>
/// <param name="Status">The status field.</param>
public readonly record struct NvmeCompletion(ushort CommandId, NvmeStatus Status);

/// <summary>Receives a command's completion (the completion queue, for one submitter). Implemented once per pooled requester, so completing allocates nothing.</summary>
public interface INvmeCompletionHandler
{
    /// <summary>Called once per submitted command, on any thread, inline from the submission or later.</summary>
    void OnNvmeCompleted(in NvmeCompletion completion);
}
