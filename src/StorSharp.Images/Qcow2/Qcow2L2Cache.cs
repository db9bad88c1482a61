namespace StorSharp.Images.Qcow2;

/// <summary>
/// A bounded least-recently-used cache of L2 tables, keyed by L1 index. The bound is in bytes (at most
/// 32 MiB of tables, at least 4 tables), so a hostile or huge image cannot make the cache grow without
/// limit. Evicted arrays are reused for the next table loaded. Callers hold the device's metadata lock.
/// </summary>
internal sealed class Qcow2L2Cache
{
    private const long MaxBytes = 32L << 20;
    private readonly int _clusterSize;
    private readonly int _capacity;
    private readonly Dictionary<int, LinkedListNode<(int Index, byte[] Table)>> _map = new();
    private readonly LinkedList<(int Index, byte[] Table)> _order = new();
    private byte[]? _spare;

    internal Qcow2L2Cache(int clusterSize)
    {
        _clusterSize = clusterSize;
        _capacity = (int)Math.Clamp(MaxBytes / clusterSize, 4, 4096);
    }

    /// <summary>The cached table for <paramref name="l1Index"/>, or null.</summary>
    internal byte[]? Get(int l1Index)
    {
        if (!_map.TryGetValue(l1Index, out var node)) return null;
        _order.Remove(node);
        _order.AddFirst(node);
        return node.Value.Table;
    }

    /// <summary>An array to load a table into: a reused evicted one when possible.</summary>
    internal byte[] Rent()
    {
        byte[] table = _spare ?? new byte[_clusterSize];
        _spare = null;
        return table;
    }

    /// <summary>Adds a loaded table, evicting the least recently used one when full.</summary>
    internal void Add(int l1Index, byte[] table)
    {
        if (_map.TryGetValue(l1Index, out var existing))
        {
            _order.Remove(existing);
            _map.Remove(l1Index);
        }
        if (_map.Count >= _capacity)
        {
            var last = _order.Last!;
            _order.RemoveLast();
            _map.Remove(last.Value.Index);
            _spare = last.Value.Table;
        }
        _map[l1Index] = _order.AddFirst((l1Index, table));
    }

    /// <summary>Forgets every table.</summary>
    internal void Clear()
    {
        _map.Clear();
        _order.Clear();
    }
}
