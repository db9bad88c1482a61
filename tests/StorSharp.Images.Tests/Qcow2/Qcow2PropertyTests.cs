using FsCheck;
using FsCheck.Fluent;
using StorSharp.Block;
using StorSharp.Images.Qcow2;

namespace StorSharp.Images.Tests.Qcow2;

/// <summary>Random sequences of writes, zeroing and unmaps (some running concurrently) against a qcow2 image with a backing device, compared with a byte-array model; then the image is reopened and compared again.</summary>
public sealed class Qcow2PropertyTests : IDisposable
{
    private const int Blocks = 2048; // 1 MiB of 512-byte blocks
    private readonly ImageDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public readonly record struct Op(int Kind, int Lba, int Count, int Seed);

    private static readonly Gen<Op> OpGen =
        from kind in Gen.Choose(0, 4)
        from lba in Gen.Choose(0, Blocks - 1)
        from count in Gen.Choose(1, 200)
        from seed in Gen.Choose(0, 1 << 20)
        select new Op(kind, lba, Math.Min(count, Blocks - lba), seed);

    [Fact]
    public void Random_operations_match_a_model()
    {
        int run = 0;
        Prop.ForAll(Gen.ArrayOf(OpGen).ToArbitrary(), ops => Check(ops, run++).GetAwaiter().GetResult())
            .Check(Config.QuickThrowOnFailure.WithMaxTest(40));
    }

    private async Task<bool> Check(Op[] ops, int run)
    {
        var baseData = new byte[Blocks * 512];
        new Random(run).NextBytes(baseData);
        var ram = new RamBlockDevice(baseData.Length);
        await ram.WriteAsync(0, baseData);
        var model = (byte[])baseData.Clone();
        string path = _dir.File($"p{run}.qcow2");
        await Qcow2Creator.CreateAsync(path, baseData.Length, clusterSize: 4096);
        var options = new DiskImageOpenOptions();
        await using (var image = await Qcow2BlockDevice.OpenAsync(path, options, ram, ownsBacking: false, CancellationToken.None))
        {
            var device = new CheckedBlockDevice(image, leaveOpen: true);
            // Operations on disjoint ranges run concurrently in pairs; overlapping ones one after the other.
            for (int i = 0; i < ops.Length; i++)
            {
                if (i + 1 < ops.Length && Disjoint(ops[i], ops[i + 1]))
                {
                    await Task.WhenAll(Apply(device, ops[i], model), Apply(device, ops[i + 1], model));
                    i++;
                }
                else
                    await Apply(device, ops[i], model);
            }
            if (!await Matches(device, model)) return false;
        }
        await using (var reopened = await Qcow2BlockDevice.OpenAsync(path, options with { ReadOnly = true }, ram, ownsBacking: false, CancellationToken.None))
            return await Matches(reopened, model);
    }

    private static bool Disjoint(Op a, Op b) => a.Lba + a.Count <= b.Lba || b.Lba + b.Count <= a.Lba;

    private static async Task Apply(IBlockDevice device, Op op, byte[] model)
    {
        await Task.Yield();
        var span = model.AsMemory(op.Lba * 512, op.Count * 512);
        switch (op.Kind)
        {
            case 0:
            case 1:
                var data = new byte[op.Count * 512];
                new Random(op.Seed).NextBytes(data);
                await device.WriteAsync(op.Lba, data);
                data.CopyTo(span);
                break;
            case 2:
                await device.UnmapAsync(op.Lba, op.Count);
                span.Span.Clear();
                break;
            case 3:
                await device.WriteZeroesAsync(op.Lba, op.Count);
                span.Span.Clear();
                break;
            default:
                var read = new byte[op.Count * 512];
                await device.ReadAsync(op.Lba, read);
                break;
        }
    }

    private static async Task<bool> Matches(IBlockDevice device, byte[] model)
    {
        var all = new byte[model.Length];
        await device.ReadAsync(0, all);
        return all.AsSpan().SequenceEqual(model);
    }
}
