using Microsoft.AspNetCore.Http;
using StorSharp.Host.Configuration;

namespace StorSharp.Host.Management;

/// <summary>
/// <c>PUT /v1/luns/{target}/{lun}/faults</c>: replaces the LU's fault rules with the body, a JSON
/// list in the shape of <c>luns[].faults</c> (an empty list clears them).
/// </summary>
internal sealed class SetFaults : IManagementOperation
{
    public string Method => "PUT";
    public string Route => "/v1/luns/{target}/{lun}/faults";

    public async Task<IResult> HandleAsync(HttpContext http, ManagementContext context)
    {
        var (lun, unit) = context.FindLun(http);
        var text = await ManagementContext.ReadBodyAsync(http).ConfigureAwait(false);
        if (string.IsNullOrWhiteSpace(text)) throw ManagementException.BadArgument("faults", "the body must be a JSON list of fault rules (an empty list clears them)");
        IReadOnlyList<StorSharp.Port.FaultRule> rules;
        try
        {
            rules = ConfigurationLoader.ParseFaultRules(text, "request");
        }
        catch (ConfigurationException e)
        {
            var first = e.Errors[0];
            throw ManagementException.BadArgument(first.Field.Length == 0 ? "faults" : first.Field, string.Join("; ", e.Errors.Select(x => x.Message)));
        }
        unit.SetFaults(rules);
        return Results.Json(context.Describe(lun));
    }
}
