using StorSharp.Port;

namespace StorSharp.Scsi.Tests;

public class ScsiCommandTableTests
{
    private static readonly ScsiCommandTable Table = ScsiDiskMiniport.Commands;

    [Fact]
    public void Every_row_is_keyed_by_its_own_opcode_and_found_again()
    {
        Assert.NotEmpty(Table.Commands);
        foreach (var c in Table.Commands)
        {
            Assert.Equal(c.Opcode, c.UsageData[0]);
            Assert.Same(c, Table.Find(c.Opcode, c.ServiceAction));
            var cdb = new byte[c.CdbLength];
            cdb[0] = c.Opcode;
            if (c.ServiceAction is { } sa) cdb[1] = sa;
            Assert.Equal(CommandLookup.Found, Table.Find(cdb, out var found));
            Assert.Same(c, found);
        }
    }

    [Fact]
    public void Unknown_opcode_and_unknown_service_action_are_told_apart()
    {
        Assert.Equal(CommandLookup.UnknownOpcode, Table.Find([0xFF, 0, 0, 0, 0, 0], out _));
        Assert.Equal(CommandLookup.UnknownServiceAction, Table.Find([0x9E, 0x1F, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], out _));
    }

    [Fact]
    public void Reserved_bit_check_points_at_byte_and_highest_bad_bit()
    {
        var read10 = Table.Find(ScsiOpcodes.Read10, null)!;
        Assert.True(read10.CheckReservedBits(Cdbs.Read10(5, 1, 0x1A), out _));
        Assert.False(read10.CheckReservedBits(Cdbs.Read10(5, 1, 0x20), out var p));
        Assert.Equal(SenseKeySpecific.Cdb(1, 5), p);
        var cdb = Cdbs.Read10(5, 1);
        cdb[9] = 0x04; // NACA
        Assert.False(read10.CheckReservedBits(cdb, out p));
        Assert.Equal(SenseKeySpecific.Cdb(9, 2), p);
        cdb[9] = 0xC0; // vendor-specific bits are ignored
        Assert.True(read10.CheckReservedBits(cdb, out _));
    }

    [Fact]
    public void Duplicate_rows_are_refused()
    {
        static void Handler(ScsiTask _) { }
        var row = new ScsiCommand(0x00, null, "A", DataDirection.None, [0, 0, 0, 0, 0, 0], ReservationAccess.Allowed, ScsiCommandFlags.None, Handler);
        Assert.Throws<ArgumentException>(() => new ScsiCommandTable([row, row]));
    }

    [Fact]
    public void Usage_map_must_start_with_opcode()
    {
        static void Handler(ScsiTask _) { }
        Assert.Throws<ArgumentException>(() => new ScsiCommand(0x01, null, "A", DataDirection.None, [0, 0, 0, 0, 0, 0], ReservationAccess.Allowed, ScsiCommandFlags.None, Handler));
    }
}
