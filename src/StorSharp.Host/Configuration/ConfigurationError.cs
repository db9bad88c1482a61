namespace StorSharp.Host.Configuration;

/// <summary>One problem found in a configuration: where it is, which field, and what is wrong.</summary>
/// <param name="Source">The file name (or <c>command line</c>) the value came from.</param>
/// <param name="Line">1-based line of the value; 0 when the value has no line (command line, defaults).</param>
/// <param name="Column">1-based column of the value; 0 when unknown.</param>
/// <param name="Field">The field's path, for example <c>luns[0].blockSize</c>; empty for a whole-document problem.</param>
/// <param name="Message">What is wrong and how to fix it.</param>
public sealed record ConfigurationError(string Source, int Line, int Column, string Field, string Message)
{
    /// <summary>The error as one line: <c>storsharp.yaml line 12: luns[0].blockSize: 1024 is not supported; use 512 or 4096</c>.</summary>
    public override string ToString()
    {
        var where = Line > 0 ? $"{Source} line {Line}" : Source;
        return Field.Length > 0 ? $"{where}: {Field}: {Message}" : $"{where}: {Message}";
    }
}

/// <summary>A configuration could not be read or is not valid. <see cref="Exception.Message"/> lists every error, one a line.</summary>
public sealed class ConfigurationException : Exception
{
    /// <summary>Creates the exception from the errors found.</summary>
    public ConfigurationException(IReadOnlyList<ConfigurationError> errors)
        : base(string.Join(Environment.NewLine, errors.Select(e => e.ToString())))
    {
        if (errors.Count == 0) throw new ArgumentException("At least one error is needed.", nameof(errors));
        Errors = errors;
    }

    /// <summary>The errors, in document order.</summary>
    public IReadOnlyList<ConfigurationError> Errors { get; }
}
