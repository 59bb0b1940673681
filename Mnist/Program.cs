namespace Mnist;

/// <summary>The process entry point: wires the real console and Ctrl+C to <see cref="Cli"/>.</summary>
public static class Program
{
    /// <summary>Runs the command line; see <see cref="ExitCodes"/> for the exit codes.</summary>
    public static int Main(string[] args)
    {
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (!cancel.IsCancellationRequested)
            {
                e.Cancel = true; // the first Ctrl+C stops after the current batch; a second one ends the process
                cancel.Cancel();
            }
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            var session = new ConsoleSession(Console.Out, Console.Error, IsTerminal: !Console.IsOutputRedirected, cancel.Token);
            return Cli.Run(args, session);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}
