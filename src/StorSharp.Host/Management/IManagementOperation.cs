using Microsoft.AspNetCore.Http;

namespace StorSharp.Host.Management;

/// <summary>
/// One operation of the management API: an HTTP method, a route and a handler. Every
/// non-abstract class in this assembly that implements it is served (found at start), so adding an
/// operation is one file in <c>Management/Operations</c>.
/// </summary>
internal interface IManagementOperation
{
    /// <summary>GET, POST, PUT or DELETE.</summary>
    string Method { get; }

    /// <summary>The route template, for example <c>/v1/luns/{target}/{lun}/faults</c>.</summary>
    string Route { get; }

    /// <summary>Carries the request out. Throw <see cref="ManagementException"/> for a bad request; nothing may have changed then.</summary>
    Task<IResult> HandleAsync(HttpContext http, ManagementContext context);
}

/// <summary>A request the API refuses: the HTTP status, the message and the field at fault.</summary>
internal sealed class ManagementException(int status, string message, string? field = null) : Exception(message)
{
    /// <summary>400 for bad arguments, 404 for an unknown LUN or adapter, 409 for a state that forbids it.</summary>
    public int Status { get; } = status;

    /// <summary>The request field (body or route) the error is about.</summary>
    public string? Field { get; } = field;

    public static ManagementException BadArgument(string field, string message) => new(StatusCodes.Status400BadRequest, $"{field}: {message}", field);

    public static ManagementException NotFound(string field, string message) => new(StatusCodes.Status404NotFound, message, field);
}
