using System.Buffers.Binary;
using StorSharp.Block;

namespace StorSharp.Scsi.Tests;

public class ReportSupportedTests
{
    private static byte[] Rsoc(int options, byte opcode = 0, ushort sa = 0, bool rctd = false, int allocation = 8192) =>
        [0xA3, 0x0C, (byte)((rctd ? 0x80 : 0) | options), opcode, (byte)(sa >> 8), (byte)sa,
         (byte)(allocation >> 24), (byte)(allocation >> 16), (byte)(allocation >> 8), (byte)allocation, 0, 0];

    [Fact]
    public async Task All_commands_lists_exactly_the_table_rows_available_on_the_lu()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync(Rsoc(0, rctd: true), 8192);
        r.AssertGood();
        int length = (int)BinaryPrimitives.ReadUInt32BigEndian(r.Data);
        var listed = new List<(byte, ushort, bool, int)>();
        for (int i = 4; i < 4 + length; i += 20)
        {
            Assert.Equal(0x02, r.Data[i + 5] & 0x02); // CTDP
            Assert.Equal(0x0A, BinaryPrimitives.ReadUInt16BigEndian(r.Data.AsSpan(i + 8)));
            listed.Add((r.Data[i], BinaryPrimitives.ReadUInt16BigEndian(r.Data.AsSpan(i + 2)), (r.Data[i + 5] & 1) != 0, BinaryPrimitives.ReadUInt16BigEndian(r.Data.AsSpan(i + 6))));
        }
        var expected = ScsiDiskMiniport.Commands.Commands.Where(c => c.AvailableOn is null)
            .Select(c => (c.Opcode, (ushort)(c.ServiceAction ?? 0), c.ServiceAction is not null, c.CdbLength)).ToList();
        Assert.Equal(expected, listed);
        Assert.DoesNotContain(listed, l => l.Item1 == ScsiOpcodes.Unmap); // thick LU: no UNMAP
    }

    [Fact]
    public async Task One_command_returns_its_usage_map()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync(Rsoc(1, ScsiOpcodes.Read10), 64);
        r.AssertGood();
        Assert.Equal(0x03, r.Data[1] & 0x07);
        Assert.Equal(10, BinaryPrimitives.ReadUInt16BigEndian(r.Data.AsSpan(2)));
        Assert.Equal(ScsiDiskMiniport.Commands.Find(ScsiOpcodes.Read10, null)!.UsageData.ToArray(), r.Data[4..14]);

        var sa = await h.ExecAsync(Rsoc(2, ScsiOpcodes.ServiceActionIn16, 0x10, rctd: true), 64);
        sa.AssertGood();
        Assert.Equal(0x83, sa.Data[1]);
        Assert.Equal(16, BinaryPrimitives.ReadUInt16BigEndian(sa.Data.AsSpan(2)));
        Assert.Equal(4 + 16 + 12, sa.DataTransferLength);

        var unsupported = await h.ExecAsync(Rsoc(1, 0xFD), 64);
        Assert.Equal(0x01, unsupported.Data[1] & 0x07);
    }

    [Fact]
    public async Task Option_mismatch_with_service_actions_is_invalid_field()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        (await h.ExecAsync(Rsoc(1, ScsiOpcodes.ServiceActionIn16), 64)).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        (await h.ExecAsync(Rsoc(2, ScsiOpcodes.Read10), 64)).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        (await h.ExecAsync(Rsoc(5), 64)).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
    }

    [Fact]
    public async Task Thin_lu_lists_unmap()
    {
        var (h, _) = await DiskHarness.SingleAsync(new TestBlockDevice(64, capabilities: BlockDeviceCapabilities.ThinProvisioned));
        await using var _h = h;
        var r = await h.ExecAsync(Rsoc(1, ScsiOpcodes.Unmap), 64);
        Assert.Equal(0x03, r.Data[1] & 0x07);
    }

    [Fact]
    public async Task Task_management_functions()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync([0xA3, 0x0D, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0], 4);
        r.AssertGood();
        Assert.Equal(0x8A, r.Data[0]);
        (await h.ExecAsync([0xA3, 0x0D, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0], 4)).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
    }
}
