using Engine;
using Engine.Checkpoint;

namespace Mnist;

/// <summary>
/// Where a command writes and what stops it: the console's streams in <see cref="Program.Main"/>,
/// string writers in tests. Nothing here is process-wide, so tests can run commands side by side.
/// </summary>
/// <param name="Out">Normal output (tables, progress, results).</param>
/// <param name="Error">One-line error messages.</param>
/// <param name="IsTerminal">Whether <paramref name="Out"/> is an interactive terminal (live progress bars) or redirected (one line per epoch).</param>
/// <param name="Cancellation">Set by Ctrl+C: training stops after the current batch and saves a checkpoint.</param>
internal sealed record ConsoleSession(TextWriter Out, TextWriter Error, bool IsTerminal = false, CancellationToken Cancellation = default)
{
    /// <summary>Called after every training batch (tests use it to cancel at a known point).</summary>
    public Action<BatchProgress>? OnBatch { get; init; }

    /// <summary>
    /// Makes the checkpoint manager of a folder for <c>train</c>; null: <see cref="Checkpoints.Manager"/>. Tests use it to
    /// make checkpoint writes fail part-way where no full file system can be mounted.
    /// </summary>
    public Func<string, CheckpointManager>? CheckpointManager { get; init; }
}
