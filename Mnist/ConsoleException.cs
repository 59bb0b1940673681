namespace Mnist;

/// <summary>A failure the console reports as one line on stderr with an exit code, never as a stack trace.</summary>
internal sealed class ConsoleException : Exception
{
    private ConsoleException(string message, int exitCode, Exception? inner) : base(message, inner)
    {
        ExitCode = exitCode;
    }

    /// <summary>The process exit code: <see cref="ExitCodes.Usage"/> or <see cref="ExitCodes.Failure"/>.</summary>
    public int ExitCode { get; }

    /// <summary>The command line asks for something impossible (exit code 2).</summary>
    public static ConsoleException Usage(string message) => new(message, ExitCodes.Usage, null);

    /// <summary>The command was valid but failed while running (exit code 1).</summary>
    public static ConsoleException Failure(string message, Exception? inner = null) => new(message, ExitCodes.Failure, inner);
}

/// <summary>The process exit codes.</summary>
internal static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Success = 0;

    /// <summary>A runtime failure: data, checkpoint, image or output directory unusable, training diverged.</summary>
    public const int Failure = 1;

    /// <summary>A usage error: unknown option, out-of-range value, conflicting options.</summary>
    public const int Usage = 2;

    /// <summary>Stopped by Ctrl+C after saving a checkpoint (128 + SIGINT, as shells report it).</summary>
    public const int Interrupted = 130;
}
