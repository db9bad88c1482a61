using System.Buffers.Binary;
using StorSharp.Block;

namespace StorSharp.Nvme.Tests;

/// <summary>The device model on its own: commands with hand-made PRPs, including ones a careless driver would build.</summary>
public sealed class ControllerTests
{
    private sealed class Completions : INvmeCompletionHandler
    {
        public readonly List<NvmeCompletion> Seen = [];

        public void OnNvmeCompleted(in NvmeCompletion completion) => Seen.Add(completion);
    }

    private static (NvmeController Controller, HostMemory Memory, RamBlockDevice Device) Create()
    {
        var memory = new HostMemory();
        var device = new RamBlockDevice(1 << 20, 512);
        return (new NvmeController(memory, [new NvmeNamespace(1, device)]), memory, device);
    }

    private static NvmeStatus Run(NvmeController controller, NvmeCommand command)
    {
        var sink = new Completions();
        controller.Submit(command, sink);
        return Assert.Single(sink.Seen).Status;
    }

    [Fact]
    public async Task A_read_scatters_into_the_pages_the_prps_name()
    {
        var (controller, memory, device) = Create();
        var data = new byte[8192];
        new Random(1).NextBytes(data);
        await device.WriteAsync(0, data);
        var first = new byte[4096];
        var second = new byte[4096];
        var command = NvmeCommand.ReadWrite(NvmeOpcodes.Read, 1, 0, 16, fua: false);
        command.Prp1 = memory.Map(first);
        command.Prp2 = memory.Map(second);
        Assert.Equal(NvmeStatus.Success, Run(controller, command));
        Assert.Equal(data[..4096], first);
        Assert.Equal(data[4096..], second);
    }

    [Fact]
    public void Prps_that_break_the_rules_fail_with_prp_offset_invalid_and_unmapped_ones_with_a_transfer_error()
    {
        var (controller, memory, _) = Create();
        var buffer = new byte[12288];
        ulong base0 = memory.Map(buffer);
        // PRP1 not dword aligned.
        var c = NvmeCommand.ReadWrite(NvmeOpcodes.Read, 1, 0, 1, false);
        c.Prp1 = base0 + 2;
        Assert.Equal(NvmeStatus.PrpOffsetInvalid, Run(controller, c));
        // PRP2 as a data page with an offset.
        c = NvmeCommand.ReadWrite(NvmeOpcodes.Read, 1, 0, 16, false);
        c.Prp1 = base0;
        c.Prp2 = base0 + 4096 + 512;
        Assert.Equal(NvmeStatus.PrpOffsetInvalid, Run(controller, c));
        // A PRP list entry with an offset.
        var list = new byte[4096];
        BinaryPrimitives.WriteUInt64LittleEndian(list, base0 + 4096);
        BinaryPrimitives.WriteUInt64LittleEndian(list.AsSpan(8), base0 + 8192 + 8);
        c = NvmeCommand.ReadWrite(NvmeOpcodes.Read, 1, 0, 24, false);
        c.Prp1 = base0;
        c.Prp2 = memory.Map(list);
        Assert.Equal(NvmeStatus.PrpOffsetInvalid, Run(controller, c));
        // Memory that is not mapped.
        c = NvmeCommand.ReadWrite(NvmeOpcodes.Read, 1, 0, 1, false);
        c.Prp1 = 0x7_0000_0000;
        Assert.Equal(NvmeStatus.DataTransferError, Run(controller, c));
        Assert.True(memory.Unmap(base0));
        c.Prp1 = base0;
        Assert.Equal(NvmeStatus.DataTransferError, Run(controller, c));
    }

    [Fact]
    public void Commands_are_checked_against_the_namespace()
    {
        var (controller, memory, _) = Create();
        var c = NvmeCommand.ReadWrite(NvmeOpcodes.Read, 2, 0, 1, false);
        c.Prp1 = memory.Map(new byte[512]);
        Assert.Equal(NvmeStatus.InvalidNamespaceOrFormat, Run(controller, c));
        c.NamespaceId = 1;
        c.Cdw10 = 2048;
        Assert.Equal(NvmeStatus.LbaOutOfRange, Run(controller, c));
        Assert.Equal(NvmeStatus.InvalidOpcode, Run(controller, new NvmeCommand { Opcode = 0x7F, NamespaceId = 1 }));
        Assert.Equal(NvmeStatus.Success, Run(controller, new NvmeCommand { Opcode = NvmeOpcodes.Flush, NamespaceId = 1 }));
        var ro = new NvmeController(memory, [new NvmeNamespace(1, new RamBlockDevice(1 << 20), writeProtected: true)]);
        var w = NvmeCommand.WriteZeroes(1, 0, 1, false, false);
        Assert.Equal(NvmeStatus.NamespaceWriteProtected, Run(ro, w));
    }
}
