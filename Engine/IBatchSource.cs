namespace Engine;

/// <summary>One mini-batch: images [N, H, W, C] and one-hot labels [N, classes]. The tensors may be reused by the next batch.</summary>
public readonly record struct Batch(Tensor Images, Tensor Labels);

/// <summary>A source of mini-batches for training (Engine.Data's batcher implements it).</summary>
public interface IBatchSource
{
    /// <summary>The number of examples one epoch visits.</summary>
    int ExampleCount { get; }

    /// <summary>The number of batches in one epoch.</summary>
    int BatchesPerEpoch { get; }

    /// <summary>The batches of epoch <paramref name="epoch"/> (0-based); the order may depend on the epoch.</summary>
    IEnumerable<Batch> GetEpoch(int epoch);
}
