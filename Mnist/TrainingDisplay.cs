using System.Globalization;
using Engine;
using Spectre.Console;

namespace Mnist;

/// <summary>How training progress is shown: live bars on a terminal, one line per epoch otherwise.</summary>
internal abstract class TrainingDisplay
{
    /// <summary>Runs <paramref name="training"/> while this display shows its progress.</summary>
    public abstract void Run(Action training);

    /// <summary>Called after every batch.</summary>
    public abstract void OnBatch(BatchProgress progress);

    /// <summary>Called after every epoch, with what was saved (e.g. "saved ckpt-0003.ckpt").</summary>
    public abstract void OnEpochEnd(EpochReport epoch, string saved);

    /// <summary>The display for <paramref name="session"/>.</summary>
    public static TrainingDisplay For(ConsoleSession session, int epochs) =>
        session.IsTerminal ? new LiveBars(session, epochs) : new EpochLines(session.Out, epochs);

    /// <summary>The text of a finished epoch, shared by both displays.</summary>
    protected static string Describe(EpochReport epoch, int epochs, string saved) => string.Create(CultureInfo.InvariantCulture,
        $"epoch {epoch.Epoch}/{epochs}  loss {epoch.TrainLoss:F4}  accuracy {epoch.TrainAccuracy:F4}  test_loss {epoch.TestLoss:F4}  test_accuracy {epoch.TestAccuracy:F4}  {epoch.Seconds:F1} s  {epoch.ImagesPerSecond:F0} images/s  {saved}");

    /// <summary>Redirected output: exactly one line per epoch, written when the epoch ends.</summary>
    private sealed class EpochLines(TextWriter output, int epochs) : TrainingDisplay
    {
        public override void Run(Action training) => training();

        public override void OnBatch(BatchProgress progress)
        {
        }

        public override void OnEpochEnd(EpochReport epoch, string saved)
        {
            output.WriteLine(Describe(epoch, epochs, saved));
            output.Flush();
        }
    }

    /// <summary>
    /// A terminal: a Spectre.Console progress bar for the running epoch (loss, accuracy, images/s,
    /// ETA); each finished epoch becomes a line above it, as in the redirected output.
    /// </summary>
    private sealed class LiveBars(ConsoleSession session, int epochs) : TrainingDisplay
    {
        private readonly IAnsiConsole _console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(session.Out) });
        private ProgressContext? _context;
        private ProgressTask? _task;

        public override void Run(Action training) =>
            _console.Progress()
                .AutoClear(true)
                .HideCompleted(true)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = 16 }, new PercentageColumn(),
                    new RemainingTimeColumn())
                .Start(context =>
                {
                    _context = context;
                    training();
                });

        public override void OnBatch(BatchProgress progress)
        {
            if (_task is null || _task.IsFinished)
            {
                _task = _context!.AddTask($"epoch {progress.Epoch + 1}/{epochs}", maxValue: progress.BatchesPerEpoch);
                _task.Value = progress.Batch - 1;
            }
            _task.Value = progress.Batch;
            _task.Description = string.Create(CultureInfo.InvariantCulture,
                $"epoch {progress.Epoch + 1}/{epochs} loss {progress.Loss:F4} acc {progress.Accuracy:F4} {progress.ImagesPerSecond,5:F0} img/s");
        }

        public override void OnEpochEnd(EpochReport epoch, string saved)
        {
            if (_task is not null)
            {
                _task.Value = _task.MaxValue;
                _task.StopTask();
            }
            _console.WriteLine(Describe(epoch, epochs, saved));
        }
    }
}
