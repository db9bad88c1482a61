using System.Buffers.Binary;

namespace StorSharp.Scsi;

/// <summary>
/// The fields of a READ, WRITE, VERIFY or similar block command (SBC-4 §5): where it starts, how
/// many blocks, and its flags.
/// </summary>
/// <param name="Lba">The first logical block.</param>
/// <param name="TransferLength">Blocks to transfer (READ(6)/WRITE(6): 0 already turned into 256).</param>
/// <param name="Fua">Force unit access.</param>
/// <param name="Dpo">Disable page out (a cache hint).</param>
/// <param name="Protect">RDPROTECT / WRPROTECT / VRPROTECT (bits 7-5 of byte 1), 0 when absent.</param>
/// <param name="Group">The group number, 0 when absent.</param>
public readonly record struct BlockCommand(ulong Lba, uint TransferLength, bool Fua, bool Dpo, byte Protect, byte Group);

/// <summary>
/// Pure readers of block-command CDBs (SBC-4 §5.7 - §5.44): READ and WRITE 6/10/12/16 and the
/// commands that share their layout (VERIFY, WRITE AND VERIFY, ORWRITE, PRE-FETCH, SYNCHRONIZE
/// CACHE). No allocation, no I/O.
/// </summary>
public static class BlockCdb
{
    /// <summary>The CDB length of a block command with this opcode: 6, 10, 12 or 16 by the opcode's group code (SPC-4 §4.2.5.1).</summary>
    public static int LengthOf(byte opcode) => (opcode >> 5) switch
    {
        0 => 6,
        1 or 2 => 10,
        4 => 16,
        5 => 12,
        _ => 0,
    };

    /// <summary>
    /// Reads LBA, transfer length and flags from a 6, 10, 12 or 16-byte block command; the layout
    /// follows from the opcode's group code.
    /// </summary>
    /// <returns>False when the CDB is shorter than its opcode requires or the group has no block layout.</returns>
    public static bool TryRead(ReadOnlySpan<byte> cdb, out BlockCommand command)
    {
        command = default;
        if (cdb.IsEmpty) return false;
        int length = LengthOf(cdb[0]);
        if (length == 0 || cdb.Length < length) return false;
        switch (length)
        {
            case 6:
            {
                // SBC-4 §5.8 READ(6): LBA is 21 bits; a transfer length of 0 means 256 blocks.
                uint lba = ((uint)(cdb[1] & 0x1F) << 16) | ((uint)cdb[2] << 8) | cdb[3];
                uint blocks = cdb[4] == 0 ? 256u : cdb[4];
                command = new BlockCommand(lba, blocks, false, false, 0, 0);
                return true;
            }
            case 10:
                command = new BlockCommand(BinaryPrimitives.ReadUInt32BigEndian(cdb[2..]), BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]),
                    (cdb[1] & 0x08) != 0, (cdb[1] & 0x10) != 0, (byte)(cdb[1] >> 5), (byte)(cdb[6] & 0x3F));
                return true;
            case 12:
                command = new BlockCommand(BinaryPrimitives.ReadUInt32BigEndian(cdb[2..]), BinaryPrimitives.ReadUInt32BigEndian(cdb[6..]),
                    (cdb[1] & 0x08) != 0, (cdb[1] & 0x10) != 0, (byte)(cdb[1] >> 5), (byte)(cdb[10] & 0x3F));
                return true;
            default:
                command = new BlockCommand(BinaryPrimitives.ReadUInt64BigEndian(cdb[2..]), BinaryPrimitives.ReadUInt32BigEndian(cdb[10..]),
                    (cdb[1] & 0x08) != 0, (cdb[1] & 0x10) != 0, (byte)(cdb[1] >> 5), (byte)(cdb[14] & 0x3F));
                return true;
        }
    }

    /// <summary>
    /// True when <paramref name="lba"/> + <paramref name="blocks"/> fits in a device of
    /// <paramref name="capacity"/> blocks, computed without overflow (SBC-4 §4.5: LBA OUT OF RANGE
    /// otherwise). A zero-length range at the capacity itself is inside.
    /// </summary>
    public static bool IsInRange(ulong lba, ulong blocks, ulong capacity) => lba <= capacity && capacity - lba >= blocks;

    /// <summary>The byte offset in a CDB of this length where the LBA field starts (for field pointers).</summary>
    public static int LbaOffset(int cdbLength) => cdbLength == 6 ? 1 : 2;

    /// <summary>The byte offset in a CDB of this length where the transfer length field starts (for field pointers).</summary>
    public static int TransferLengthOffset(int cdbLength) => cdbLength switch { 6 => 4, 10 => 7, 12 => 6, _ => 10 };
}
