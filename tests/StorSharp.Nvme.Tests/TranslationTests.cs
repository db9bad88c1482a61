using System.Buffers.Binary;
using System.Text;
using StorSharp.Block;
using StorSharp.Port;
using StorSharp.Scsi;

namespace StorSharp.Nvme.Tests;

/// <summary>The SCSI-to-NVMe translation, driven through a real port with SRBs as front ends send them.</summary>
public sealed class TranslationTests
{
    private static byte[] Pattern(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    [Fact]
    public async Task The_adapter_reports_the_nvme_bus_type_and_its_limits()
    {
        await using var h = await NvmeHarness.CreateAsync(options: new NvmeMiniportOptions { MaximumTransferLength = 1 << 20, NumberOfPhysicalBreaks = 64 });
        Assert.Equal(StorageBusType.Nvme, h.Adapter.Configuration.BusType);
        Assert.Equal(1 << 20, h.Adapter.Configuration.MaximumTransferLength);
        Assert.Equal(64, h.Adapter.Configuration.NumberOfPhysicalBreaks);
        Assert.Single(h.Adapter.LogicalUnits);
    }

    [Fact]
    public async Task Inquiry_reports_an_nvme_disk()
    {
        await using var h = await NvmeHarness.CreateAsync();
        var r = (await h.ExecAsync(Cdb.Inquiry(), 255)).AssertGood();
        Assert.Equal(96, r.Data.Length);
        Assert.Equal(91, r.Data[4]);                         // additional length
        // Version descriptors SAM-5, SPC-4, SBC-3: libiscsi checks SBC-3 before it accepts a 60-byte VPD B0h.
        Assert.Equal(new byte[] { 0x00, 0xA0, 0x04, 0x60, 0x04, 0xC0 }, r.Data[58..64]);
        Assert.Equal(0x00, r.Data[0]);                       // direct access, qualifier 0
        Assert.Equal(0x06, r.Data[2]);                       // SPC-4
        Assert.Equal("NVMe    ", Encoding.ASCII.GetString(r.Data, 8, 8));
        Assert.Equal("StorSharp NVMe", Encoding.ASCII.GetString(r.Data, 16, 16).TrimEnd());
        // EVPD = 0 with a page code is an invalid field in byte 2.
        var bad = (await h.ExecAsync(Cdb.Inquiry(page: 0x80), 255)).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        Assert.Equal(2, bad.Specific.Field);
    }

    [Fact]
    public async Task Vpd_pages_carry_serial_eui64_limits_rotation_and_provisioning()
    {
        await using var h = await NvmeHarness.CreateAsync();
        var list = (await h.ExecAsync(Cdb.Inquiry(evpd: true, page: 0x00), 255)).AssertGood();
        Assert.Equal(new byte[] { 0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2 }, list.Data[4..]);
        var serial = (await h.ExecAsync(Cdb.Inquiry(evpd: true, page: 0x80), 255)).AssertGood();
        Assert.Equal("NVME0001", Encoding.ASCII.GetString(serial.Data, 4, serial.Data[3]));
        var id = (await h.ExecAsync(Cdb.Inquiry(evpd: true, page: 0x83), 255)).AssertGood();
        Assert.Equal(0x02, id.Data[5] & 0x0F);               // EUI-64 designator
        Assert.Equal(8, id.Data[7]);
        Assert.Equal(h.Miniport.Controller.GetNamespace(1)!.Eui64, id.Data[8..16]);
        var limits = (await h.ExecAsync(Cdb.Inquiry(evpd: true, page: 0xB0), 255)).AssertGood();
        Assert.Equal((uint)(8 * 1024 * 1024 / 512), limits.U32(8));   // maximum transfer length in blocks
        Assert.Equal(256u, limits.U32(24));                             // one DSM command's ranges
        Assert.Equal(65535UL, limits.U64(36));                          // one Write Zeroes (as the SCSI disk and LIO)
        var characteristics = (await h.ExecAsync(Cdb.Inquiry(evpd: true, page: 0xB1), 255)).AssertGood();
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(characteristics.Data.AsSpan(4))); // non-rotating
        var provisioning = (await h.ExecAsync(Cdb.Inquiry(evpd: true, page: 0xB2), 255)).AssertGood();
        Assert.Equal(0xE4, provisioning.Data[5]);            // LBPU, LBPWS, LBPWS10, LBPRZ (a RAM disk reads zeros after deallocate)
        (await h.ExecAsync(Cdb.Inquiry(evpd: true, page: 0xB9), 255)).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
    }

    [Fact]
    public async Task Read_capacity_10_and_16_describe_the_namespace()
    {
        await using var h = await NvmeHarness.CreateAsync(new RamBlockDevice(64L << 20, 4096));
        var r10 = (await h.ExecAsync(Cdb.ReadCapacity10(), 8)).AssertGood();
        Assert.Equal((uint)(64 * 256 - 1), r10.U32(0));
        Assert.Equal(4096u, r10.U32(4));
        var r16 = (await h.ExecAsync(Cdb.ReadCapacity16(), 32)).AssertGood();
        Assert.Equal((ulong)(64 * 256 - 1), r16.U64(0));
        Assert.Equal(4096u, r16.U32(8));
        Assert.Equal(0xC0, r16.Data[14]);                    // LBPME, LBPRZ
    }

    [Theory]
    [InlineData(6)]
    [InlineData(10)]
    [InlineData(12)]
    [InlineData(16)]
    public async Task Writes_and_reads_of_every_cdb_size_reach_the_namespace(int size)
    {
        await using var h = await NvmeHarness.CreateAsync();
        var data = Pattern(8 * 512, size);
        var (write, read) = size switch
        {
            6 => (Cdb.Write6(100, 8), Cdb.Read6(100, 8)),
            10 => (Cdb.Write10(100, 8), Cdb.Read10(100, 8)),
            12 => (Cdb.Write12(100, 8), Cdb.Read12(100, 8)),
            _ => (Cdb.Write16(100, 8), Cdb.Read16(100, 8)),
        };
        (await h.ExecAsync(write, dataOut: data)).AssertGood();
        var stored = new byte[data.Length];
        await h.Device.ReadAsync(100, stored);
        Assert.Equal(data, stored);
        Assert.Equal(data, (await h.ExecAsync(read, data.Length)).AssertGood().Data);
    }

    [Fact]
    public async Task A_transfer_that_needs_chained_prp_list_pages_goes_straight_through()
    {
        // 4 MiB in one segment: 1024 PRP entries, more than one 4 KiB list page (511 + chain pointer) holds.
        await using var h = await NvmeHarness.CreateAsync(new RamBlockDevice(8L << 20, 512));
        var data = Pattern(4 << 20, 7);
        (await h.ExecAsync(Cdb.Write16(16, 8192), dataOut: data)).AssertGood();
        Assert.Equal(data, (await h.ExecAsync(Cdb.Read16(16, 8192), data.Length)).AssertGood().Data);
        Assert.Equal(2, h.Miniport.Statistics.Direct);
        // 1023 entries after PRP1: 511 and a chain pointer in the first list page, 512 in the second.
        Assert.Equal(2, h.Miniport.Pages.PageCount);
    }

    [Fact]
    public async Task A_read_that_ends_inside_a_block_is_bounced_and_reports_the_residual()
    {
        await using var h = await NvmeHarness.CreateAsync();
        var data = Pattern(1024, 3);
        (await h.ExecAsync(Cdb.Write10(0, 2), dataOut: data)).AssertGood();
        // The CDB asks for 2 blocks; the buffer holds 700 bytes.
        var r = await h.ExecAsync(Cdb.Read10(0, 2), 700);
        Assert.Equal(SrbStatus.DataOverrun, r.Status);      // Storport's code for an under- or overrun
        Assert.Equal(1024, r.DataTransferLength);
        Assert.Equal(data[..700], r.Data[..700]);
        Assert.Equal(1, h.Miniport.Statistics.Bounced);
    }

    [Fact]
    public async Task Data_through_an_asynchronous_backend_lands_with_split_and_bounce()
    {
        var device = new FakeBlockDevice(1 << 20) { Asynchronous = true };
        await using var h = await NvmeHarness.CreateAsync(device);
        var data = Pattern(4096, 9);
        // Sub-page middle elements on 512-byte boundaries: split into three commands.
        Segment[] split = [new(0, 512), new(0, 512), new(0, 3072)];
        (await h.ExecAsync(Cdb.Write10(8, 8), split, data)).AssertGood();
        Assert.Equal(1, h.Miniport.Statistics.Split);
        Assert.Equal(3, h.Miniport.Statistics.SplitCommands);
        // An element boundary inside a block: bounced.
        Segment[] bounce = [new(0, 100), new(0, 3996)];
        Assert.Equal(data, (await h.ExecAsync(Cdb.Read10(8, 8), bounce, null)).AssertGood().Data);
        Assert.Equal(1, h.Miniport.Statistics.Bounced);
        Assert.Equal(0, h.Miniport.Memory.MappedCount - h.Miniport.Pages.PageCount);
    }

    [Fact]
    public async Task Out_of_range_write_protected_and_unknown_commands_are_refused()
    {
        await using var h = await NvmeHarness.CreateAsync(readOnly: true);
        (await h.ExecAsync(Cdb.Read16(2048, 1), 512)).AssertCheckCondition(SenseCodes.LbaOutOfRange);
        (await h.ExecAsync(Cdb.Read16(2047, 1), 512)).AssertGood();
        (await h.ExecAsync(Cdb.Write10(0, 1), dataOut: new byte[512])).AssertCheckCondition(SenseCodes.WriteProtected);
        var unknown = (await h.ExecAsync([0x8B, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0], dataOut: new byte[512])).AssertCheckCondition(SenseCodes.InvalidCommandOperationCode); // ORWRITE(16)
        Assert.Equal(0, unknown.Specific.Field);
        (await h.ExecAsync([0xC0, 0, 0, 0, 0, 0])).AssertCheckCondition(SenseCodes.InvalidCommandOperationCode);
        // MODE SENSE shows the write protection (WP in the device-specific parameter).
        var mode = (await h.ExecAsync(Cdb.ModeSense6(0x08), 255)).AssertGood();
        Assert.Equal(0x80, mode.Data[2] & 0x80);
    }

    [Fact]
    public async Task Unmap_deallocates_through_dataset_management()
    {
        var device = new FakeBlockDevice(1 << 20);
        await using var h = await NvmeHarness.CreateAsync(device);
        (await h.ExecAsync(Cdb.Write10(0, 64), dataOut: Pattern(64 * 512, 1))).AssertGood();
        var parameters = Cdb.UnmapParameters((8, 8), (40, 0), (32, 4));
        (await h.ExecAsync(Cdb.Unmap(parameters.Length), dataOut: parameters)).AssertGood();
        Assert.Equal(2, device.Unmaps);                      // the empty descriptor is not sent
        var read = (await h.ExecAsync(Cdb.Read10(0, 64), 64 * 512)).AssertGood().Data;
        Assert.True(read.AsSpan(8 * 512, 8 * 512).IndexOfAnyExcept((byte)0) < 0);
        Assert.True(read.AsSpan(32 * 512, 4 * 512).IndexOfAnyExcept((byte)0) < 0);
        Assert.True(read.AsSpan(0, 8 * 512).IndexOfAnyExcept((byte)0) >= 0);
        var outOfRange = Cdb.UnmapParameters((2040, 16));
        (await h.ExecAsync(Cdb.Unmap(outOfRange.Length), dataOut: outOfRange)).AssertCheckCondition(SenseCodes.LbaOutOfRange);
    }

    [Fact]
    public async Task Get_lba_status_reports_deallocated_and_mapped_runs()
    {
        await using var h = await NvmeHarness.CreateAsync();
        (await h.ExecAsync(Cdb.Write10(0, 16), dataOut: Pattern(16 * 512, 4))).AssertGood();
        byte[] cdb = [0x9E, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0, 0]; // from LBA 0, 256 bytes
        var r = (await h.ExecAsync(cdb, 256)).AssertGood();
        Assert.True(r.U32(0) >= 4 + 32);
        Assert.Equal(0UL, r.U64(8));
        Assert.Equal(0, r.Data[8 + 12]);                     // the written blocks are mapped
        ulong next = r.U64(8) + r.U32(16);
        Assert.Equal(next, r.U64(24));
        Assert.Equal(1, r.Data[24 + 12]);                    // the rest was never written: deallocated
        byte[] past = [0x9E, 0x12, 0, 0, 0, 0, 0, 0, 0x08, 0x00, 0, 0, 0x01, 0x00, 0, 0]; // LBA 2048: the capacity
        (await h.ExecAsync(past, 256)).AssertCheckCondition(SenseCodes.LbaOutOfRange);
    }

    [Fact]
    public async Task Unmap_is_an_unknown_command_without_deallocate_support()
    {
        var device = new FakeBlockDevice(1 << 20) { CapabilitiesOverride = BlockDeviceCapabilities.None };
        await using var h = await NvmeHarness.CreateAsync(device);
        var parameters = Cdb.UnmapParameters((0, 8));
        (await h.ExecAsync(Cdb.Unmap(parameters.Length), dataOut: parameters)).AssertCheckCondition(SenseCodes.InvalidCommandOperationCode);
        var limits = (await h.ExecAsync(Cdb.Inquiry(evpd: true, page: 0xB0), 255)).AssertGood();
        Assert.Equal(0u, limits.U32(24));
    }

    [Fact]
    public async Task Write_same_of_zeros_becomes_write_zeroes()
    {
        await using var h = await NvmeHarness.CreateAsync();
        (await h.ExecAsync(Cdb.Write10(0, 16), dataOut: Pattern(16 * 512, 2))).AssertGood();
        (await h.ExecAsync(Cdb.WriteSame16(2, 4, unmap: true), dataOut: new byte[512])).AssertGood();
        (await h.ExecAsync(Cdb.WriteSame16(10, 2, ndob: true))).AssertGood();
        (await h.ExecAsync(Cdb.WriteSame10(14, 1), dataOut: new byte[512])).AssertGood();
        var read = (await h.ExecAsync(Cdb.Read10(0, 16), 16 * 512)).AssertGood().Data;
        Assert.True(read.AsSpan(2 * 512, 4 * 512).IndexOfAnyExcept((byte)0) < 0);
        Assert.True(read.AsSpan(10 * 512, 2 * 512).IndexOfAnyExcept((byte)0) < 0);
        Assert.True(read.AsSpan(14 * 512, 512).IndexOfAnyExcept((byte)0) < 0);
        Assert.True(read.AsSpan(6 * 512, 4 * 512).IndexOfAnyExcept((byte)0) >= 0);
        (await h.ExecAsync(Cdb.WriteSame16(0, 0), dataOut: new byte[512])).AssertCheckCondition(SenseCodes.InvalidFieldInCdb); // WSNZ
    }

    [Fact]
    public async Task Synchronize_cache_and_the_flush_function_send_an_nvme_flush()
    {
        var device = new FakeBlockDevice(1 << 20);
        await using var h = await NvmeHarness.CreateAsync(device);
        (await h.ExecAsync(Cdb.SynchronizeCache10())).AssertGood();
        (await h.ExecAsync(Cdb.SynchronizeCache16())).AssertGood();
        Assert.Equal(2, device.Flushes);
        var srb = SrbPool.Shared.Rent();
        srb.Function = SrbFunction.Flush;
        srb.Address = NvmeHarness.Lun0;
        await h.Adapter.ExecuteAsync(srb);
        Assert.Equal(SrbStatus.Success, srb.Status);
        srb.Release();
        Assert.Equal(3, device.Flushes);
    }

    [Fact]
    public async Task Mode_sense_has_the_caching_and_control_pages()
    {
        var device = new FakeBlockDevice(1 << 20) { CapabilitiesOverride = BlockDeviceCapabilities.Flush };
        await using var h = await NvmeHarness.CreateAsync(device);
        var six = (await h.ExecAsync(Cdb.ModeSense6(0x08), 255)).AssertGood();
        Assert.Equal(8, six.Data[3]);                        // a block descriptor
        Assert.Equal(512u, six.U32(8) & 0xFFFFFF);
        Assert.Equal(0x08, six.Data[12]);
        Assert.Equal(0x04, six.Data[14] & 0x04);             // WCE: a volatile write cache
        Assert.Equal(six.Data[0] + 1, six.Data.Length);
        var all = (await h.ExecAsync(Cdb.ModeSense10(0x3F), 255)).AssertGood();
        Assert.Equal(0x08, all.Data[8]);
        Assert.Equal(0x0A, all.Data[28]);
        var changeable = (await h.ExecAsync(Cdb.ModeSense10(0x08, pc: 1), 255)).AssertGood();
        Assert.Equal(0, changeable.Data[10] & 0x04);         // nothing is changeable
        (await h.ExecAsync(Cdb.ModeSense10(0x08, pc: 3), 255)).AssertCheckCondition(SenseCodes.SavingParametersNotSupported);
        (await h.ExecAsync(Cdb.ModeSense6(0x1C), 255)).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
    }

    [Fact]
    public async Task Report_luns_lists_the_namespaces_and_the_scan_finds_them_without_lun_0()
    {
        // No namespace at LUN 0: the port's scan gets peripheral qualifier 3 there, then REPORT LUNS.
        await using var h = await NvmeHarness.CreateAsync(
        [
            new NvmeNamespaceDefinition(new ScsiAddress(0, 0, 3), new RamBlockDevice(1 << 20)),
            new NvmeNamespaceDefinition(new ScsiAddress(0, 0, 5), new RamBlockDevice(2 << 20, 4096)),
        ]);
        Assert.Equal(new byte[] { 3, 5 }, h.Adapter.LogicalUnits.Select(u => u.Address.Lun).Order().ToArray());
        var lun3 = new ScsiAddress(0, 0, 3);
        var luns = (await h.ExecAsync(Cdb.ReportLuns(), 256, address: lun3)).AssertGood();
        Assert.Equal(16u, luns.U32(0));
        Assert.Equal(3, luns.Data[9]);
        Assert.Equal(5, luns.Data[17]);
        (await h.ExecAsync(Cdb.ReportLuns(allocation: 8), 8, address: lun3)).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        // Namespace 2 (LUN 5) is its own: 4096-byte blocks.
        var capacity = (await h.ExecAsync(Cdb.ReadCapacity10(), 8, address: new ScsiAddress(0, 0, 5))).AssertGood();
        Assert.Equal(4096u, capacity.U32(4));
    }

    [Fact]
    public async Task A_lun_without_a_namespace_answers_inquiry_with_qualifier_3_and_nothing_else()
    {
        var miniport = new NvmeMiniport([new NvmeNamespaceDefinition(new ScsiAddress(0, 0, 3), new RamBlockDevice(1 << 20))]);
        var port = new RecordingPort();
        miniport.FindAdapter(port, new PortConfiguration(), null);
        var srb = new Srb { Address = new ScsiAddress(0, 0, 0), Direction = DataDirection.In };
        srb.SetCdb(Cdb.Inquiry());
        srb.Data.Rent(255);
        srb.DataTransferLength = 255;
        miniport.StartIo(srb);
        Assert.Same(srb, Assert.Single(port.Completed));
        Assert.Equal(ScsiStatus.Good, srb.ScsiStatus);
        var data = new byte[1];
        srb.Data.CopyTo(0, data);
        Assert.Equal(0x7F, data[0]);
        var read = new Srb { Address = new ScsiAddress(0, 0, 0), Direction = DataDirection.In };
        read.SetCdb(Cdb.Read10(0, 1));
        read.Data.Rent(512);
        read.DataTransferLength = 512;
        miniport.StartIo(read);
        Assert.True(SenseData.TryParse(read.SenseData, out var sense));
        Assert.Equal(SenseCodes.LogicalUnitNotSupported, sense.Code);
        // No target at all: selection timeout, so the port's scan skips it.
        var other = new Srb { Address = new ScsiAddress(0, 1, 0) };
        other.SetCdb(Cdb.TestUnitReady());
        miniport.StartIo(other);
        Assert.Equal(SrbStatus.SelectionTimeout, other.Status);
    }

    [Fact]
    public async Task Test_unit_ready_and_request_sense_are_good()
    {
        await using var h = await NvmeHarness.CreateAsync();
        (await h.ExecAsync(Cdb.TestUnitReady())).AssertGood();
        var sense = (await h.ExecAsync(Cdb.RequestSense(), 252)).AssertGood();
        Assert.Equal(0x70, sense.Data[0]);
        Assert.Equal(0, sense.Data[2] & 0x0F);               // NO SENSE
    }

    [Theory]
    [InlineData(BlockError.MediumError, false, SenseKey.MediumError, 0x11, 0x00)]   // Unrecovered Read Error
    [InlineData(BlockError.MediumError, true, SenseKey.MediumError, 0x03, 0x00)]    // Write Fault
    [InlineData(BlockError.NotReady, false, SenseKey.NotReady, 0x04, 0x00)]         // Namespace Not Ready
    [InlineData(BlockError.NoSpace, true, SenseKey.DataProtect, 0x27, 0x07)]        // Capacity Exceeded
    [InlineData(BlockError.ReadOnly, true, SenseKey.DataProtect, 0x27, 0x00)]       // Namespace is Write Protected
    [InlineData(BlockError.OutOfRange, false, SenseKey.IllegalRequest, 0x21, 0x00)] // LBA Out of Range
    public async Task Backend_failures_complete_with_the_nvme_status_translated_to_sense(BlockError error, bool write, SenseKey key, byte asc, byte ascq)
    {
        var device = new FakeBlockDevice(1 << 20) { Fail = error };
        await using var h = await NvmeHarness.CreateAsync(device);
        var r = write ? await h.ExecAsync(Cdb.Write10(0, 1), dataOut: new byte[512]) : await h.ExecAsync(Cdb.Read10(0, 1), 512);
        r.AssertCheckCondition(new SenseCode(key, asc, ascq));
        Assert.Equal(0, h.Miniport.Memory.MappedCount - h.Miniport.Pages.PageCount);
    }

    [Fact]
    public void Every_status_the_controller_returns_has_a_sense_row()
    {
        Assert.Equal(SenseCodes.InvalidCommandOperationCode, NvmeStatusTranslation.ToSense(NvmeStatus.InvalidOpcode));
        Assert.Equal(SenseCodes.InvalidFieldInCdb, NvmeStatusTranslation.ToSense(NvmeStatus.InvalidField));
        Assert.Equal(new SenseCode(SenseKey.MediumError, 0, 0), NvmeStatusTranslation.ToSense(NvmeStatus.DataTransferError));
        Assert.Equal(SenseCodes.InternalTargetFailure, NvmeStatusTranslation.ToSense(NvmeStatus.InternalError));
        Assert.Equal(SenseCodes.InternalTargetFailure, NvmeStatusTranslation.ToSense(NvmeStatus.PrpOffsetInvalid));
        Assert.Equal(SenseCodes.AbortedCommand, NvmeStatusTranslation.ToSense(NvmeStatus.AbortRequested));
        Assert.Equal(new SenseCode(SenseKey.IllegalRequest, 0x20, 0x09), NvmeStatusTranslation.ToSense(NvmeStatus.InvalidNamespaceOrFormat));
        Assert.Equal(SenseCodes.LbaOutOfRange, NvmeStatusTranslation.ToSense(NvmeStatus.LbaOutOfRange));
        Assert.Equal(SenseCodes.WriteProtected, NvmeStatusTranslation.ToSense(NvmeStatus.NamespaceWriteProtected));
        Assert.Equal(SenseCodes.UnrecoveredReadError, NvmeStatusTranslation.ToSense(NvmeStatus.UnrecoveredReadError));
    }
}
