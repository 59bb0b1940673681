namespace Engine.Checkpoint;

/// <summary>
/// Everything a checkpoint holds, as plain data and independent of any model class: the architecture
/// description, the parameters by name, the optimizer's state, where training stood, the random states
/// needed to resume, and free-form metadata. Tensors are held by reference; <see cref="CheckpointFile.Save"/>
/// copies their values into the file and <see cref="CheckpointFile.Load"/> returns fresh tensors.
/// </summary>
public sealed class CheckpointContents
{
    /// <summary>
    /// A human-readable description of the model (a one-line spec or the summary table), compared with
    /// the model's own description when restoring.
    /// </summary>
    public required string Architecture { get; init; }

    /// <summary>The trainable parameters in model order, e.g. <c>conv2d/kernel [3, 3, 1, 32]</c>; names are unique.</summary>
    public required IReadOnlyList<NamedTensor> Parameters { get; init; }

    /// <summary>The optimizer's short name, e.g. <c>adam</c>; empty when no optimizer state is stored.</summary>
    public string OptimizerName { get; init; } = "";

    /// <summary>The optimizer's step count (Keras's <c>iterations</c>), which Adam's bias correction depends on.</summary>
    public long OptimizerStep { get; init; }

    /// <summary>The optimizer's state tensors, e.g. <c>conv2d/kernel/m</c> and <c>conv2d/kernel/v</c>; names are unique.</summary>
    public IReadOnlyList<NamedTensor> OptimizerSlots { get; init; } = [];

    /// <summary>The number of completed epochs.</summary>
    public int Epoch { get; init; }

    /// <summary>The number of completed training steps (mini-batches) over all epochs.</summary>
    public long Step { get; init; }

    /// <summary>Named random-source states needed to resume bit-identically, e.g. <c>shuffle</c> and <c>dropout</c>.</summary>
    public IReadOnlyDictionary<string, ulong[]> RandomStates { get; init; } = new Dictionary<string, ulong[]>();

    /// <summary>Free-form key/value text, e.g. hyper-parameters (<c>learning_rate</c> = <c>0.001</c>).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();
}
