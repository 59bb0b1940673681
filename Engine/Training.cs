namespace Engine;

/// <summary>Options of <see cref="Sequential.Fit"/>.</summary>
public sealed record FitOptions
{
    /// <summary>Images [N, H, W, C] and one-hot labels evaluated after every epoch, or null.</summary>
    public (Tensor Images, Tensor Labels)? Validation { get; init; }

    /// <summary>Called after every batch with the running metrics of the epoch.</summary>
    public Action<BatchProgress>? OnBatch { get; init; }

    /// <summary>Called after every completed epoch (e.g. to save a checkpoint).</summary>
    public Action<EpochMetrics>? OnEpochEnd { get; init; }

    /// <summary>The 0-based epoch to start at (resuming).</summary>
    public int InitialEpoch { get; init; }

    /// <summary>The number of batches of <see cref="InitialEpoch"/> already trained (resuming mid-epoch); they are skipped.</summary>
    public int InitialBatch { get; init; }

    /// <summary>Stops training after the current batch when cancelled.</summary>
    public CancellationToken CancellationToken { get; init; }
}

/// <summary>Progress after one batch.</summary>
/// <param name="Epoch">The 0-based epoch.</param>
/// <param name="Batch">The number of batches of this epoch done (1-based: 1 after the first).</param>
/// <param name="BatchesPerEpoch">The number of batches in the epoch.</param>
/// <param name="Loss">The mean training loss over the batches of this epoch so far.</param>
/// <param name="Accuracy">The training accuracy over the batches of this epoch so far.</param>
/// <param name="ImagesPerSecond">The training throughput over this epoch so far.</param>
/// <param name="Elapsed">Time spent in this epoch so far.</param>
public readonly record struct BatchProgress(int Epoch, int Batch, int BatchesPerEpoch, double Loss, double Accuracy,
    double ImagesPerSecond, TimeSpan Elapsed);

/// <summary>The metrics of one completed epoch.</summary>
/// <param name="Epoch">The 0-based epoch.</param>
/// <param name="TrainLoss">The mean training loss over the epoch's examples.</param>
/// <param name="TrainAccuracy">The training accuracy over the epoch's examples.</param>
/// <param name="Validation">The validation loss and accuracy, when validation data was given.</param>
/// <param name="Seconds">The epoch's training time (without validation).</param>
/// <param name="ImagesPerSecond">Training images per second.</param>
public sealed record EpochMetrics(int Epoch, double TrainLoss, double TrainAccuracy, Evaluation? Validation, double Seconds, double ImagesPerSecond);

/// <summary>What <see cref="Sequential.Fit"/> returns: the metrics per completed epoch, as Keras's History.</summary>
/// <param name="Epochs">The completed epochs in order.</param>
/// <param name="Cancelled">Whether training stopped early on the cancellation token.</param>
/// <param name="StoppedAt">Where it stopped when cancelled: the epoch and the number of its batches trained.</param>
public sealed record History(IReadOnlyList<EpochMetrics> Epochs, bool Cancelled, (int Epoch, int Batch)? StoppedAt);

/// <summary>Thrown when a training step produces a loss or gradient that is not finite.</summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TrainingDivergedException(string message) : base(message)
    {
    }
}
