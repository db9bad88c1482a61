using System.Buffers.Binary;
using StorSharp.Port;

namespace StorSharp.Scsi.Tests;

/// <summary>PERSISTENT RESERVE IN / OUT (SPC-4 §5.12, §6.15, §6.16), per I_T nexus.</summary>
public class PersistentReservationTests
{
    private const byte WE = 1, EA = 3, WERO = 5, EARO = 6, WEAR = 7, EAAR = 8;
    private static readonly InitiatorNexus A = new("iqn.a,i,0x000000000001", "iqn.t,t,0x0001");
    private static readonly InitiatorNexus B = new("iqn.b,i,0x000000000002", "iqn.t,t,0x0001");

    private static byte[] PrIn(byte sa, int allocation = 4096) => [0x5E, sa, 0, 0, 0, 0, 0, (byte)(allocation >> 8), (byte)allocation, 0];

    private static byte[] PrOutCdb(byte sa, byte type = 0, int length = 24) => [0x5F, sa, type, 0, 0, (byte)(length >> 24), (byte)(length >> 16), (byte)(length >> 8), (byte)length, 0];

    private static byte[] Params(ulong key, ulong sark, byte flags = 0)
    {
        var p = new byte[24];
        BinaryPrimitives.WriteUInt64BigEndian(p, key);
        BinaryPrimitives.WriteUInt64BigEndian(p.AsSpan(8), sark);
        p[20] = flags;
        return p;
    }

    private static async Task<DiskHarness> CreateAsync()
    {
        var def = new ScsiDiskDefinition(DiskHarness.Lun0, new TestBlockDevice());
        return await DiskHarness.CreateAsync(new ScsiDiskMiniportOptions { PowerOnUnitAttention = false }, def);
    }

    private static Task<ScsiResult> Out(DiskHarness h, InitiatorNexus n, byte sa, ulong key, ulong sark = 0, byte type = 0, byte flags = 0) =>
        h.ExecAsync(PrOutCdb(sa, type), dataOut: Params(key, sark, flags), nexus: n);

    private static async Task<(uint Generation, ulong[] Keys)> ReadKeysAsync(DiskHarness h, InitiatorNexus n)
    {
        var r = await h.ExecAsync(PrIn(0), 4096, nexus: n);
        r.AssertGood();
        uint generation = BinaryPrimitives.ReadUInt32BigEndian(r.Data);
        int length = (int)BinaryPrimitives.ReadUInt32BigEndian(r.Data.AsSpan(4));
        return (generation, [.. Enumerable.Range(0, length / 8).Select(i => BinaryPrimitives.ReadUInt64BigEndian(r.Data.AsSpan(8 + 8 * i)))]);
    }

    private static async Task<(ulong Key, byte Type)?> ReadReservationAsync(DiskHarness h, InitiatorNexus n)
    {
        var r = await h.ExecAsync(PrIn(1), 4096, nexus: n);
        r.AssertGood();
        if (BinaryPrimitives.ReadUInt32BigEndian(r.Data.AsSpan(4)) == 0) return null;
        return (BinaryPrimitives.ReadUInt64BigEndian(r.Data.AsSpan(8)), (byte)(r.Data[21] & 0x0F));
    }

    private static void AssertConflict(ScsiResult r) => Assert.Equal(ScsiStatus.ReservationConflict, r.ScsiStatus);

    [Fact]
    public async Task Register_reregister_unregister_and_generation()
    {
        await using var h = await CreateAsync();
        var (g0, keys) = await ReadKeysAsync(h, A);
        Assert.Empty(keys);
        (await Out(h, A, 0x00, 0, 0x1111)).AssertGood();               // REGISTER
        AssertConflict(await Out(h, A, 0x00, 0, 0x2222));               // registered: the key must be given
        AssertConflict(await Out(h, B, 0x00, 0x9999, 0x2222));          // unregistered with a non-zero key
        (await Out(h, B, 0x06, 0x9999, 0x2222)).AssertGood();           // REGISTER AND IGNORE EXISTING KEY
        (await Out(h, A, 0x00, 0x1111, 0x3333)).AssertGood();           // change the key
        var (g1, keys1) = await ReadKeysAsync(h, B);
        Assert.Equal(g0 + 3, g1);
        Assert.Equal(new ulong[] { 0x3333UL, 0x2222UL }, keys1);
        (await Out(h, A, 0x00, 0x3333, 0)).AssertGood();                // unregister
        Assert.Equal(new ulong[] { 0x2222UL }, (await ReadKeysAsync(h, A)).Keys);
    }

    [Fact]
    public async Task Read_keys_reports_the_full_length_when_truncated()
    {
        await using var h = await CreateAsync();
        (await Out(h, A, 0x06, 0, 0xABCD)).AssertGood();
        var r = await h.ExecAsync(PrIn(0, 8), 8, nexus: A);
        r.AssertGood();
        Assert.Equal(8, r.DataTransferLength);
        Assert.Equal(8u, BinaryPrimitives.ReadUInt32BigEndian(r.Data.AsSpan(4))); // SPC-4 §6.15.2: not cut by the allocation length
    }

    [Theory]
    // type, registered B reads, registered B writes, unregistered B reads, unregistered B writes (libiscsi ProutReserve.Access*)
    [InlineData(EA, false, false, false, false)]
    [InlineData(WE, true, false, true, false)]
    [InlineData(EARO, true, true, false, false)]
    [InlineData(WERO, true, true, true, false)]
    [InlineData(EAAR, true, true, false, false)]
    [InlineData(WEAR, true, true, true, false)]
    public async Task Access_per_reservation_type(byte type, bool regRead, bool regWrite, bool unregRead, bool unregWrite)
    {
        await using var h = await CreateAsync();
        (await Out(h, A, 0x06, 0, 0xA)).AssertGood();
        (await Out(h, B, 0x06, 0, 0xB)).AssertGood();
        (await Out(h, A, 0x01, 0xA, type: type)).AssertGood();          // RESERVE
        var reservation = await ReadReservationAsync(h, B);
        Assert.Equal((type is EAAR or WEAR ? 0UL : 0xA, type), reservation!.Value);
        (await h.ExecAsync(Cdbs.Read10(1, 1), 512, nexus: A)).AssertGood();
        (await h.ExecAsync(Cdbs.Write10(1, 1), dataOut: new byte[512], nexus: A)).AssertGood();
        await AssertAccess(h, regRead, regWrite);
        (await Out(h, B, 0x00, 0xB, 0)).AssertGood();                   // B unregisters
        await AssertAccess(h, unregRead, unregWrite);
        (await h.ExecAsync(Cdbs.Inquiry(96), 96, nexus: B)).AssertGood(); // always allowed
        (await Out(h, A, 0x02, 0xA, type: type)).AssertGood();          // RELEASE
        Assert.Null(await ReadReservationAsync(h, A));
        (await h.ExecAsync(Cdbs.Write10(1, 1), dataOut: new byte[512], nexus: B)).AssertGood();

        static async Task AssertAccess(DiskHarness h, bool read, bool write)
        {
            var r = await h.ExecAsync(Cdbs.Read10(1, 1), 512, nexus: B);
            if (read) r.AssertGood(); else AssertConflict(r);
            var w = await h.ExecAsync(Cdbs.Write10(1, 1), dataOut: new byte[512], nexus: B);
            if (write) w.AssertGood(); else AssertConflict(w);
        }
    }

    [Fact]
    public async Task Reserve_needs_registration_and_the_right_key_and_conflicts_with_another_holder()
    {
        await using var h = await CreateAsync();
        AssertConflict(await Out(h, A, 0x01, 0, type: WE));             // not registered
        (await Out(h, A, 0x06, 0, 0xA)).AssertGood();
        (await Out(h, B, 0x06, 0, 0xB)).AssertGood();
        AssertConflict(await Out(h, A, 0x01, 0xB, type: WE));           // wrong key
        (await Out(h, A, 0x01, 0xA, type: WE)).AssertGood();
        (await Out(h, A, 0x01, 0xA, type: WE)).AssertGood();            // again, same type: GOOD
        AssertConflict(await Out(h, A, 0x01, 0xA, type: EA));           // another type
        AssertConflict(await Out(h, B, 0x01, 0xB, type: WE));           // another holder
        (await Out(h, B, 0x02, 0xB, type: WE)).AssertGood();            // RELEASE by a non-holder: no-op
        Assert.NotNull(await ReadReservationAsync(h, A));
        (await Out(h, A, 0x02, 0xA, type: EA)).AssertCheckCondition(SenseCodes.InvalidReleaseOfPersistentReservation);
        (await Out(h, A, 0x01, 0xA, type: 2)).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);   // type 2 does not exist
        (await Out(h, A, 0x01, 0xA, type: 0x11)).AssertCheckCondition(SenseCodes.InvalidFieldInCdb); // scope 1
    }

    [Fact]
    public async Task Release_of_a_registrants_only_reservation_tells_the_other_registrants()
    {
        await using var h = await CreateAsync();
        (await Out(h, A, 0x06, 0, 0xA)).AssertGood();
        (await Out(h, B, 0x06, 0, 0xB)).AssertGood();
        (await Out(h, A, 0x01, 0xA, type: WE)).AssertGood();
        (await Out(h, A, 0x02, 0xA, type: WE)).AssertGood();
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: B)).AssertGood(); // Write Exclusive: released silently
        (await Out(h, A, 0x01, 0xA, type: WERO)).AssertGood();
        (await Out(h, A, 0x02, 0xA, type: WERO)).AssertGood();
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: B)).AssertCheckCondition(SenseCodes.ReservationsReleased);
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: A)).AssertGood();
    }

    [Fact]
    public async Task Holder_unregistering_releases_unless_all_registrants()
    {
        await using var h = await CreateAsync();
        (await Out(h, A, 0x06, 0, 0xA)).AssertGood();
        (await Out(h, B, 0x06, 0, 0xB)).AssertGood();
        (await Out(h, A, 0x01, 0xA, type: EARO)).AssertGood();
        (await Out(h, A, 0x00, 0xA, 0)).AssertGood();
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: B)).AssertCheckCondition(SenseCodes.ReservationsReleased);
        Assert.Null(await ReadReservationAsync(h, B));

        (await Out(h, A, 0x06, 0, 0xA)).AssertGood();
        (await Out(h, A, 0x01, 0xA, type: WEAR)).AssertGood();
        (await Out(h, A, 0x00, 0xA, 0)).AssertGood();
        Assert.Equal((0UL, WEAR), (await ReadReservationAsync(h, B))!.Value);  // B still holds it
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: B)).AssertGood();       // no stray unit attention
        (await Out(h, B, 0x02, 0xB, type: WEAR)).AssertGood();
        Assert.Null(await ReadReservationAsync(h, B));
    }

    [Fact]
    public async Task Clear_removes_everything_and_tells_the_others()
    {
        await using var h = await CreateAsync();
        (await Out(h, A, 0x06, 0, 0xA)).AssertGood();
        (await Out(h, B, 0x06, 0, 0xB)).AssertGood();
        (await Out(h, A, 0x01, 0xA, type: EA)).AssertGood();
        var (g, _) = await ReadKeysAsync(h, A);
        AssertConflict(await Out(h, B, 0x03, 0xA));                     // CLEAR needs the nexus's own key
        (await Out(h, B, 0x03, 0xB)).AssertGood();
        var (g2, keys) = await ReadKeysAsync(h, B);
        Assert.Equal(g + 1, g2);
        Assert.Empty(keys);
        Assert.Null(await ReadReservationAsync(h, B));
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: A)).AssertCheckCondition(SenseCodes.ReservationsPreempted);
    }

    [Fact]
    public async Task Preempt_removes_registrations_and_takes_over_the_reservation()
    {
        await using var h = await CreateAsync();
        (await Out(h, A, 0x06, 0, 0xA)).AssertGood();
        (await Out(h, B, 0x06, 0, 0xB)).AssertGood();
        var (g, _) = await ReadKeysAsync(h, A);
        (await Out(h, B, 0x04, 0xB, 0xA, type: EA)).AssertGood();      // no reservation: A's registration goes
        var (g2, keys) = await ReadKeysAsync(h, B);
        Assert.Equal(g + 1, g2);
        Assert.Equal(new ulong[] { 0xBUL }, keys);
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: A)).AssertCheckCondition(SenseCodes.RegistrationsPreempted);
        AssertConflict(await Out(h, B, 0x04, 0xB, 0x77, type: EA));     // nobody has key 0x77
        (await Out(h, B, 0x04, 0xB, 0, type: EA)).AssertCheckCondition(SenseCodes.InvalidFieldInParameterList);

        (await Out(h, A, 0x06, 0, 0xA)).AssertGood();
        (await Out(h, A, 0x01, 0xA, type: WE)).AssertGood();
        (await Out(h, B, 0x05, 0xB, 0xA, type: EA)).AssertGood();      // PREEMPT AND ABORT the holder
        Assert.Equal((0xBUL, EA), (await ReadReservationAsync(h, B))!.Value);
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: A)).AssertCheckCondition(SenseCodes.RegistrationsPreempted);
        AssertConflict(await h.ExecAsync(Cdbs.Read10(0, 1), 512, nexus: A));
    }

    [Fact]
    public async Task Report_capabilities_and_read_full_status()
    {
        await using var h = await CreateAsync();
        var caps = await h.ExecAsync(PrIn(2), 8, nexus: A);
        caps.AssertGood();
        Assert.Equal(8, BinaryPrimitives.ReadUInt16BigEndian(caps.Data));
        Assert.Equal(0x04, caps.Data[2]);                                // ATP_C only (no SIP_C, no PTPL_C)
        Assert.Equal(0x80, caps.Data[3] & 0x80);                         // TMV
        Assert.Equal(0xEA01, BinaryPrimitives.ReadUInt16BigEndian(caps.Data.AsSpan(4)));
        (await Out(h, A, 0x06, 0, 0xA, flags: 0x04)).AssertGood();      // ALL_TG_PT
        (await Out(h, A, 0x01, 0xA, type: WE)).AssertGood();
        var full = await h.ExecAsync(PrIn(3), 4096, nexus: A);
        full.AssertGood();
        var d = full.Data.AsSpan(8);
        Assert.Equal(0xAUL, BinaryPrimitives.ReadUInt64BigEndian(d));
        Assert.Equal(0x03, d[12]);                                       // ALL_TG_PT, R_HOLDER
        Assert.Equal(WE, d[13]);
        int idLength = (int)BinaryPrimitives.ReadUInt32BigEndian(d[20..]);
        Assert.Equal(0x45, d[24]);                                       // iSCSI, format 01b
        Assert.Equal(0, idLength % 4);
        Assert.StartsWith("iqn.a,i,0x000000000001\0", System.Text.Encoding.UTF8.GetString(d.Slice(28, idLength - 4)));
        Assert.Equal(24 + idLength, (int)BinaryPrimitives.ReadUInt32BigEndian(full.Data.AsSpan(4)));
        // Service actions 04h-1Fh do not exist (libiscsi PrinServiceactionRange).
        (await h.ExecAsync(PrIn(4), 4096, nexus: A)).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
    }

    [Fact]
    public async Task Register_and_move_hands_the_reservation_to_another_initiator_port()
    {
        await using var h = await CreateAsync();
        (await Out(h, A, 0x06, 0, 0xA)).AssertGood();
        (await Out(h, A, 0x01, 0xA, type: EA)).AssertGood();
        var id = PersistentReserveCommands.TransportId(B.InitiatorPortName);
        var list = new byte[24 + id.Length];
        BinaryPrimitives.WriteUInt64BigEndian(list, 0xA);
        BinaryPrimitives.WriteUInt64BigEndian(list.AsSpan(8), 0xB);
        list[17] = 0x02; // UNREG
        BinaryPrimitives.WriteUInt32BigEndian(list.AsSpan(20), (uint)id.Length);
        id.CopyTo(list, 24);
        (await h.ExecAsync(PrOutCdb(0x07, EA, list.Length), dataOut: list, nexus: A)).AssertGood();
        Assert.Equal((0xBUL, EA), (await ReadReservationAsync(h, B))!.Value);
        Assert.Equal(new ulong[] { 0xBUL }, (await ReadKeysAsync(h, B)).Keys);
        (await h.ExecAsync(Cdbs.Read10(0, 1), 512, nexus: B)).AssertGood();
        AssertConflict(await h.ExecAsync(Cdbs.Read10(0, 1), 512, nexus: A));
    }

    [Fact]
    public async Task Unsupported_options_and_bad_lengths_are_refused()
    {
        await using var h = await CreateAsync();
        (await Out(h, A, 0x00, 0, 0xA, flags: 0x01)).AssertCheckCondition(SenseCodes.InvalidFieldInParameterList); // APTPL
        (await Out(h, A, 0x00, 0, 0xA, flags: 0x08)).AssertCheckCondition(SenseCodes.InvalidFieldInParameterList); // SPEC_I_PT
        (await h.ExecAsync(PrOutCdb(0x00, 0, 20), dataOut: new byte[20], nexus: A)).AssertCheckCondition(SenseCodes.ParameterListLengthError);
        Assert.Empty((await ReadKeysAsync(h, A)).Keys);
    }

    [Fact]
    public async Task Registrations_survive_nexus_loss_and_a_lu_reset_and_match_a_new_nexus_with_the_same_port()
    {
        await using var h = await CreateAsync();
        (await Out(h, A, 0x06, 0, 0xA)).AssertGood();
        (await Out(h, A, 0x01, 0xA, type: EA)).AssertGood();
        await NexusLossControlTests.SendNexusLossAsync(h, A);
        var reset = SrbPool.Shared.Rent();
        reset.Function = SrbFunction.ResetLogicalUnit;
        reset.Address = DiskHarness.Lun0;
        await h.Adapter.ExecuteAsync(reset);
        reset.Release();
        var again = new InitiatorNexus(A.InitiatorPortName, A.TargetPortName); // the same port logs in again
        await h.ExecAsync(Cdbs.TestUnitReady(), nexus: again); // the reset's unit attention
        (await h.ExecAsync(Cdbs.Read10(0, 1), 512, nexus: again)).AssertGood();
        AssertConflict(await h.ExecAsync(Cdbs.Read10(0, 1), 512, nexus: B));
    }
}
