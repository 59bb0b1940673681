using Engine;
using global::Mnist;

namespace Engine.Tests.Mnist;

/// <summary>The result of one in-process console run.</summary>
public sealed record ConsoleResult(int ExitCode, string Output, string Error)
{
    /// <summary>The output's lines.</summary>
    public string[] Lines => Output.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Output}\n--- stderr\n{Error}";
}

/// <summary>Runs the console in-process with string writers: no process-wide state is touched.</summary>
public static class ConsoleRunner
{
    /// <summary>The shared MNIST folder, passed as --data.</summary>
    public static string Data => TestPaths.MnistDirectory;

    /// <summary>Runs <paramref name="args"/> as a redirected console would.</summary>
    public static ConsoleResult Run(params string[] args) => Run(null, default, args);

    /// <summary>Runs <paramref name="args"/>, calling <paramref name="onBatch"/> after every training batch and stopping on <paramref name="cancel"/>.</summary>
    internal static ConsoleResult Run(Action<BatchProgress>? onBatch, CancellationToken cancel, params string[] args) =>
        Run(terminal: false, onBatch, cancel, args);

    /// <summary>Runs <paramref name="args"/> as on a terminal (<paramref name="terminal"/>) or redirected.</summary>
    internal static ConsoleResult Run(bool terminal, Action<BatchProgress>? onBatch, CancellationToken cancel, params string[] args) =>
        Run(session => session with { IsTerminal = terminal, Cancellation = cancel, OnBatch = onBatch }, args);

    /// <summary>Runs <paramref name="args"/> redirected, in a session <paramref name="configure"/> adjusts (e.g. its checkpoint manager).</summary>
    internal static ConsoleResult Run(Func<ConsoleSession, ConsoleSession> configure, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exitCode = Cli.Run(args, configure(new ConsoleSession(output, error)));
        return new ConsoleResult(exitCode, output.ToString(), error.ToString());
    }

    /// <summary>A fresh temporary folder, deleted by <see cref="IDisposable.Dispose"/>.</summary>
    public static TemporaryDirectory TemporaryDirectory() => new();
}

/// <summary>A temporary folder deleted on dispose.</summary>
public sealed class TemporaryDirectory : IDisposable
{
    public TemporaryDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mnist-console-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    /// <summary>A path inside the folder.</summary>
    public string this[string name] => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
