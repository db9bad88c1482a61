using System.Buffers;
using StorSharp.Iscsi.Pdu;
using StorSharp.Iscsi.Session;

namespace StorSharp.Iscsi.Tests;

public sealed class CodecTests
{
    [Fact]
    public void Opcode_values_are_the_wire_values()
    {
        // RFC 7143 §11.2.1.2: a renumbered enum would break every initiator.
        Assert.Equal(0x01, (int)IscsiOpcode.ScsiCommand);
        Assert.Equal(0x05, (int)IscsiOpcode.ScsiDataOut);
        Assert.Equal(0x21, (int)IscsiOpcode.ScsiResponse);
        Assert.Equal(0x25, (int)IscsiOpcode.ScsiDataIn);
        Assert.Equal(0x31, (int)IscsiOpcode.ReadyToTransfer);
        Assert.Equal(0x32, (int)IscsiOpcode.AsyncMessage);
        Assert.Equal(0x3F, (int)IscsiOpcode.Reject);
        Assert.Equal(0x0201, (int)LoginStatus.AuthenticationFailure);
        Assert.Equal(0x0207, (int)LoginStatus.MissingParameter);
        Assert.Equal(0x04, (int)RejectReason.ProtocolError);
    }

    [Theory]
    [InlineData(0x00, "aa36918a")]
    [InlineData(0xFF, "43aba862")]
    public void Crc32C_matches_rfc3720_appendix_b4(byte fill, string wire)
    {
        var data = Enumerable.Repeat(fill, 32).ToArray();
        var digest = new byte[4];
        Crc32C.Write(digest, Crc32C.Compute(data));
        Assert.Equal(wire, Convert.ToHexStringLower(digest));
    }

    [Fact]
    public void Crc32C_incrementing_vector_and_sequence_form()
    {
        var data = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        var digest = new byte[4];
        Crc32C.Write(digest, Crc32C.Compute(data));
        Assert.Equal("4e79dd46", Convert.ToHexStringLower(digest));
        var first = new Segment(data.AsMemory(0, 5));
        var last = first.Append(data.AsMemory(5));
        Assert.Equal(Crc32C.Compute(data), Crc32C.Compute(new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length)));
    }

    [Fact]
    public void Scsi_command_is_byte_exact()
    {
        var cmd = new ScsiCommandPdu
        {
            Immediate = true, Final = true, Read = true, Attribute = TaskAttribute.Simple, Lun = LunAddressing.Encode(300),
            InitiatorTaskTag = 0x11223344, ExpectedDataTransferLength = 4096, CmdSN = 7, ExpStatSN = 9,
        };
        byte[] cdb = [0x28, 0, 0, 0, 0, 8, 0, 0, 8, 0];
        cdb.CopyTo(cmd.Cdb);
        var bhs = new byte[48];
        cmd.WriteTo(bhs);
        Assert.Equal(
            "41c10000000000004" + "12c000000000000" + "11223344" + "00001000" + "00000007" + "00000009" + "28000000000800000800000000000000",
            Convert.ToHexStringLower(bhs));
        Assert.True(ScsiCommandPdu.TryRead(bhs, out var back));
        Assert.Equal(cmd.Lun, back.Lun);
        Assert.True(back.Read && back.Final && back.Immediate && !back.Write);
        Assert.Equal(4096u, back.ExpectedDataTransferLength);
    }

    [Fact]
    public void Data_in_with_status_is_byte_exact()
    {
        var bhs = new byte[48];
        new DataInPdu
        {
            Final = true, StatusPresent = true, Underflow = true, Status = 0, Lun = 0, InitiatorTaskTag = 5, TargetTransferTag = 0xFFFFFFFF,
            StatSN = 10, ExpCmdSN = 11, MaxCmdSN = 12, DataSN = 3, BufferOffset = 0x2000, ResidualCount = 0x200,
        }.WriteTo(bhs);
        Assert.Equal(
            "25830000000000000000000000000000" + "00000005ffffffff0000000a0000000b" + "0000000c000000030000200000000200",
            Convert.ToHexStringLower(bhs));
    }

    [Fact]
    public void Login_response_status_and_stages_are_byte_exact()
    {
        var bhs = new byte[48];
        new LoginResponsePdu
        {
            Transit = true, CurrentStage = 1, NextStage = 3, Isid = 0x023D00000001, Tsih = 0x0102, InitiatorTaskTag = 0xA,
            StatSN = 1, ExpCmdSN = 2, MaxCmdSN = 3, Status = LoginStatus.MissingParameter,
        }.WriteTo(bhs);
        Assert.Equal("23870000" + "00000000" + "023d000000010102" + "0000000a00000000" + "000000010000000200000003" + "0207" + "00000000000000000000",
            Convert.ToHexStringLower(bhs));
        Assert.True(LoginResponsePdu.TryRead(bhs, out var back));
        Assert.Equal(LoginStatus.MissingParameter, back.Status);
        Assert.Equal(0x023D00000001UL, back.Isid);
    }

    [Fact]
    public void Every_pdu_round_trips()
    {
        var bhs = new byte[48];
        new R2tPdu { Lun = 1UL << 48, InitiatorTaskTag = 1, TargetTransferTag = 2, StatSN = 3, ExpCmdSN = 4, MaxCmdSN = 5, R2TSN = 6, BufferOffset = 7, DesiredDataTransferLength = 8 }.WriteTo(bhs);
        Assert.True(R2tPdu.TryRead(bhs, out var r2t));
        Assert.Equal((6u, 7u, 8u), (r2t.R2TSN, r2t.BufferOffset, r2t.DesiredDataTransferLength));
        new DataOutPdu { Final = true, InitiatorTaskTag = 9, TargetTransferTag = 2, DataSN = 1, BufferOffset = 512 }.WriteTo(bhs);
        Assert.True(DataOutPdu.TryRead(bhs, out var dout));
        Assert.Equal((9u, 1u, 512u, true), (dout.InitiatorTaskTag, dout.DataSN, dout.BufferOffset, dout.Final));
        new TaskManagementRequestPdu { Immediate = true, Function = TaskManagementFunction.LogicalUnitReset, ReferencedTaskTag = 0xFFFFFFFF, RefCmdSN = 3 }.WriteTo(bhs);
        Assert.True(TaskManagementRequestPdu.TryRead(bhs, out var tmf));
        Assert.Equal(TaskManagementFunction.LogicalUnitReset, tmf.Function);
        new TaskManagementResponsePdu { Response = TaskManagementResponse.TaskDoesNotExist, InitiatorTaskTag = 4 }.WriteTo(bhs);
        Assert.Equal(0x22, bhs[0]);
        Assert.Equal(1, bhs[2]);
        new LogoutResponsePdu { Response = LogoutResponseCode.ClosedSuccessfully, Time2Wait = 2, Time2Retain = 20 }.WriteTo(bhs);
        Assert.True(LogoutResponsePdu.TryRead(bhs, out var lo));
        Assert.Equal((2, 20), (lo.Time2Wait, lo.Time2Retain));
        new AsyncMessagePdu { AsyncEvent = AsyncEventCode.LogoutRequested, Parameter3 = 5 }.WriteTo(bhs);
        Assert.Equal((0x32, (byte)1, (byte)0), (bhs[0], bhs[36], bhs[42]));
        Assert.Equal(5, bhs[43]);
        new RejectPdu { Reason = RejectReason.DataDigestError, StatSN = 1 }.WriteTo(bhs);
        Assert.Equal((0x3F, 0x80, 0x02), (bhs[0], bhs[1], bhs[2]));
        new SnackPdu { Type = 1, BegRun = 3, RunLength = 4 }.WriteTo(bhs);
        Assert.True(SnackPdu.TryRead(bhs, out var snack));
        Assert.Equal((1, 3u, 4u), (snack.Type, snack.BegRun, snack.RunLength));
        new TextRequestPdu { Final = true, InitiatorTaskTag = 1, TargetTransferTag = 0xFFFFFFFF }.WriteTo(bhs);
        Assert.True(TextRequestPdu.TryRead(bhs, out var text));
        Assert.True(text.Final);
        new NopOutPdu { Immediate = true, InitiatorTaskTag = 0xFFFFFFFF, TargetTransferTag = 77 }.WriteTo(bhs);
        Assert.True(NopOutPdu.TryRead(bhs, out var nop));
        Assert.Equal(77u, nop.TargetTransferTag);
        new LogoutRequestPdu { Reason = LogoutReason.CloseConnection, Cid = 3 }.WriteTo(bhs);
        Assert.True(LogoutRequestPdu.TryRead(bhs, out var logout));
        Assert.Equal((LogoutReason.CloseConnection, (ushort)3), (logout.Reason, logout.Cid));
        Assert.False(ScsiResponsePdu.TryRead(bhs, out _)); // wrong opcode
    }

    [Fact]
    public void Framer_handles_padding_digests_and_partial_input()
    {
        var bhs = new byte[48];
        new NopOutPdu { InitiatorTaskTag = 1 }.WriteTo(bhs);
        byte[] data = [1, 2, 3, 4, 5];
        var frame = new byte[PduFramer.FrameLength(0, data.Length, true, true)];
        Assert.Equal(48 + 4 + 8 + 4, frame.Length);
        PduFramer.Write(frame, bhs, default, data, true, true);
        var limits = new FrameLimits(8192, true, true);
        for (int cut = 0; cut < frame.Length; cut++)
            Assert.Equal(FrameStatus.NeedMoreData, PduFramer.TryRead(frame.AsSpan(0, cut), limits, out _, out _));
        Assert.Equal(FrameStatus.Complete, PduFramer.TryRead(frame, limits, out var pdu, out long consumed));
        Assert.Equal(frame.Length, consumed);
        Assert.Equal(data, pdu.Data.ToArray());

        var badData = (byte[])frame.Clone();
        badData[54] ^= 1;
        Assert.Equal(FrameStatus.DataDigestError, PduFramer.TryRead(badData, limits, out _, out consumed));
        Assert.Equal(frame.Length, consumed);
        var badHeader = (byte[])frame.Clone();
        badHeader[20] ^= 1;
        Assert.Equal(FrameStatus.HeaderDigestError, PduFramer.TryRead(badHeader, limits, out _, out _));
        Assert.Equal(FrameStatus.DataSegmentTooLong, PduFramer.TryRead(frame, limits with { MaxDataSegmentLength = 4 }, out _, out consumed));
        Assert.Equal(frame.Length, consumed);
    }

    [Fact]
    public void Text_keys_parse_and_refuse_oversize()
    {
        var list = new List<KeyValuePair<string, string>>();
        Assert.Equal(TextError.None, TextKeyReader.Parse("A=1\0B=x,y\0\0\0"u8, list));
        Assert.Equal([new("A", "1"), new("B", "x,y")], list);
        list.Clear();
        Assert.Equal(TextError.MissingEquals, TextKeyReader.Parse("A\0"u8, list));
        Assert.Equal(TextError.BadKeyLength, TextKeyReader.Parse(System.Text.Encoding.ASCII.GetBytes(new string('K', 64) + "=1\0"), list));
        Assert.Equal(TextError.ValueTooLong, TextKeyReader.Parse(System.Text.Encoding.ASCII.GetBytes("K=" + new string('v', 256) + "\0"), list));
        Assert.Equal(TextError.TextTooLong, TextKeyReader.Parse(new byte[70000], list));
        Assert.Equal(TextError.BadCharacters, TextKeyReader.Parse([(byte)'K', (byte)'=', 0xFF, 0], list));
        Assert.Equal("A=1\0B=2\0"u8.ToArray(), TextKeyWriter.ToBytes([new("A", "1"), new("B", "2")]));
    }

    [Theory]
    [InlineData(0UL, 0x0000_0000_0000_0000UL)]
    [InlineData(255UL, 0x00FF_0000_0000_0000UL)]
    [InlineData(256UL, 0x4100_0000_0000_0000UL)]
    [InlineData(16383UL, 0x7FFF_0000_0000_0000UL)]
    public void Lun_encoding_uses_peripheral_then_flat_addressing(ulong lun, ulong field)
    {
        Assert.Equal(field, LunAddressing.Encode(lun));
        Assert.True(LunAddressing.TryDecode(field, out var back));
        Assert.Equal(lun, back);
    }

    [Fact]
    public void Lun_decoding_refuses_multi_level_and_extended()
    {
        Assert.False(LunAddressing.TryDecode(0x0001_0001_0000_0000UL, out _));
        Assert.False(LunAddressing.TryDecode(LunAddressing.ReportLunsWellKnown, out _));
        Assert.True(LunAddressing.TryDecode(0x012C_0000_0000_0000UL, out var quirk)); // libiscsi's LUN 300
        Assert.Equal(300UL, quirk);
    }

    [Fact]
    public void Expected_data_bytes_and_truncation()
    {
        byte[] write10 = [0x2A, 0, 0, 0, 0, 0, 0, 0, 2, 0];
        Assert.Equal(1024, ScsiFacts.ExpectedDataBytes(write10, 512));
        Assert.True(ScsiFacts.TryTruncateTransfer(write10, 512, 512));
        Assert.Equal(1, write10[8]);
        // Less than a block: zero blocks (rule a), so a 512-byte write to a 4096-byte LU reaches the LU.
        Assert.True(ScsiFacts.TryTruncateTransfer(write10, 4096, 512));
        Assert.Equal(0, write10[8]);
        write10[8] = 3;
        Assert.True(ScsiFacts.TryTruncateTransfer(write10, 512, 1500));
        Assert.Equal(2, write10[8]);
        byte[] write6 = [0x0A, 0, 0, 0, 2, 0];
        Assert.False(ScsiFacts.TryTruncateTransfer(write6, 512, 200)); // 0 blocks would mean 256
        byte[] verifyNoData = [0x2F, 0, 0, 0, 0, 0, 0, 0, 2, 0];
        Assert.Equal(0, ScsiFacts.ExpectedDataBytes(verifyNoData, 512));
        Assert.Equal(-1, ScsiFacts.ExpectedDataBytes([0x12, 0, 0, 0, 96, 0], 512));
        Assert.Equal(6, ScsiFacts.CdbLength([0x12, 0, 0, 0, 0, 0]));
        Assert.Equal(16, ScsiFacts.CdbLength(new byte[] { 0x88 }.Concat(new byte[15]).ToArray()));
        Assert.Equal(12, ScsiFacts.CdbLength(new byte[] { 0xA8 }.Concat(new byte[11]).ToArray()));
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;
        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
