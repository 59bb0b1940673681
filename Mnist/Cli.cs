using System.CommandLine;
using Engine;

namespace Mnist;

/// <summary>
/// The command line: <c>train</c>, <c>evaluate</c>, <c>predict</c>, <c>summary</c>, <c>basics</c>.
/// <see cref="Run(string[], ConsoleSession)"/> parses, runs and turns every failure into one line
/// on stderr and an exit code (<see cref="ExitCodes"/>).
/// </summary>
internal static class Cli
{
    /// <summary>Runs a command line with redirected-style output (one line per epoch, no live bars).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) => Run(args, new ConsoleSession(stdout, stderr));

    /// <summary>Runs a command line in <paramref name="session"/> and returns the exit code.</summary>
    public static int Run(string[] args, ConsoleSession session)
    {
        ArgumentNullException.ThrowIfNull(args);
        RootCommand root = CreateRoot(session);
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            string command = parse.CommandResult.Command is RootCommand ? "" : " " + parse.CommandResult.Command.Name;
            // An unknown word also leaves the command missing; name the word, the more useful of the two.
            string message = parse.Errors.OrderBy(e => e.Message.StartsWith("Required command", StringComparison.Ordinal) ? 1 : 0).First().Message;
            session.Error.WriteLine($"error: {message} (see 'mnist{command} --help')");
            return ExitCodes.Usage;
        }
        var invocation = new InvocationConfiguration
        {
            Output = session.Out,
            Error = session.Error,
            EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = null,
        };
        return parse.Invoke(invocation);
    }

    /// <summary>The root command with every sub-command.</summary>
    public static RootCommand CreateRoot(ConsoleSession session)
    {
        var root = new RootCommand("Trains and uses the TensorFlow 2 MNIST lab's CNN with a pure C# engine.")
        {
            TrainCommand.Create(session),
            EvaluateCommand.Create(session),
            PredictCommand.Create(session),
            SummaryCommand.Create(session),
            BasicsCommand.Create(session),
        };
        return root;
    }

    /// <summary>
    /// Runs a command body, turning the failures a user can cause (bad files, unwritable folders,
    /// divergence) into one line on stderr and an exit code.
    /// </summary>
    public static int Guard(ConsoleSession session, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (ConsoleException error)
        {
            session.Error.WriteLine($"error: {error.Message}");
            return error.ExitCode;
        }
        catch (TrainingDivergedException error)
        {
            session.Error.WriteLine($"error: training diverged: {error.Message}");
            return ExitCodes.Failure;
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            session.Error.WriteLine($"error: {OneLine(error.Message)}");
            return ExitCodes.Failure;
        }
        catch (Exception error) when (error is ArgumentException or InvalidOperationException or FormatException or NotSupportedException)
        {
            session.Error.WriteLine($"error: {OneLine(error.Message)}");
            return ExitCodes.Failure;
        }
        catch (OutOfMemoryException error)
        {
            session.Error.WriteLine($"error: out of memory ({OneLine(error.Message)}); try a smaller --batch-size or fewer --threads.");
            return ExitCodes.Failure;
        }
    }

    /// <summary>The message on one line.</summary>
    public static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}
