using StorSharp.Port;

namespace StorSharp.Host;

/// <summary>
/// Connects a front end to fault injection's connection drop: for every adapter it watches, each
/// <see cref="Adapter.ConnectionDropRequested"/> calls the front end's drop function with the
/// adapter and the LU's address, and the front end closes the connections that use that LU.
/// Adapters can be added while it lives (a LUN added at run time may bring a new one); disposing it
/// unsubscribes from all of them.
/// </summary>
/// <param name="drop">Closes the front end's connections to one LU; returns how many it closed.</param>
internal sealed class ConnectionDropSubscription(Func<Adapter, ScsiAddress, int> drop) : IDisposable
{
    private readonly List<(Adapter Adapter, Action<ScsiAddress> Handler)> _handlers = [];

    /// <summary>Watches <paramref name="adapters"/> (each once, however often it is named).</summary>
    public void Watch(IEnumerable<Adapter> adapters)
    {
        foreach (var adapter in adapters) Watch(adapter);
    }

    /// <summary>Watches <paramref name="adapter"/>, unless it is watched already.</summary>
    public void Watch(Adapter adapter)
    {
        lock (_handlers)
        {
            if (_handlers.Exists(h => ReferenceEquals(h.Adapter, adapter))) return;
            Action<ScsiAddress> handler = address => drop(adapter, address);
            adapter.ConnectionDropRequested += handler;
            _handlers.Add((adapter, handler));
        }
    }

    public void Dispose()
    {
        lock (_handlers)
        {
            foreach (var (adapter, handler) in _handlers) adapter.ConnectionDropRequested -= handler;
            _handlers.Clear();
        }
    }
}
