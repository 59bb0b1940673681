namespace Engine.Data;

/// <summary>MNIST could not be found or fetched from any source; <see cref="Attempts"/> (and the message) list each source tried and why it failed.</summary>
public sealed class MnistUnavailableException : IOException
{
    /// <summary>Creates the exception from the failed attempts, one line each.</summary>
    public MnistUnavailableException(string summary, IReadOnlyList<string> attempts)
        : base(summary + Environment.NewLine + string.Join(Environment.NewLine, attempts.Select(attempt => "  - " + attempt)))
    {
        Attempts = attempts;
    }

    /// <summary>Each source tried and why it failed.</summary>
    public IReadOnlyList<string> Attempts { get; }
}
