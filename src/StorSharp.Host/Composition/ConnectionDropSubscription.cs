using StorSharp.Port;

namespace StorSharp.Host;

/// <summary>
/// Connects a front end to fault injection's connection drop: while it lives, every
/// <see cref="Adapter.ConnectionDropRequested"/> of the given adapters calls the front end's drop function
/// with the adapter and the LU's address, and the front end closes the connections that use that LU.
/// Disposing it unsubscribes.
/// </summary>
internal sealed class ConnectionDropSubscription : IDisposable
{
    private readonly List<(Adapter Adapter, Action<ScsiAddress> Handler)> _handlers = [];

    /// <param name="adapters">The adapters whose LUs the front end serves.</param>
    /// <param name="drop">Closes the front end's connections to one LU; returns how many it closed.</param>
    public ConnectionDropSubscription(IEnumerable<Adapter> adapters, Func<Adapter, ScsiAddress, int> drop)
    {
        foreach (var adapter in adapters.Distinct())
        {
            Action<ScsiAddress> handler = address => drop(adapter, address);
            adapter.ConnectionDropRequested += handler;
            _handlers.Add((adapter, handler));
        }
    }

    public void Dispose()
    {
        foreach (var (adapter, handler) in _handlers) adapter.ConnectionDropRequested -= handler;
        _handlers.Clear();
    }
}
