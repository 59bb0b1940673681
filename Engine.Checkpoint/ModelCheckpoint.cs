using System.Text;
using Engine.Layers;

namespace Engine.Checkpoint;

/// <summary>Where a training run stands: what a checkpoint needs beyond the weights to resume exactly.</summary>
/// <param name="Epoch">The 0-based epoch to continue with (the number of epochs completed when <paramref name="Batch"/> is 0).</param>
/// <param name="Batch">The number of batches of <paramref name="Epoch"/> already trained (0 at an epoch boundary).</param>
/// <param name="ShuffleSeed">The seed of the data order (the order of an epoch is a function of the seed and the epoch).</param>
public readonly record struct TrainingPosition(int Epoch, int Batch, ulong ShuffleSeed);

/// <summary>The glue between a <see cref="Sequential"/> model (with its optimizer) and <see cref="CheckpointContents"/>.</summary>
public static class ModelCheckpoint
{
    private const string TrainingRandomName = "training";
    private const string ShuffleName = "shuffle";

    /// <summary>
    /// A one-line description of the model that a checkpoint must match: each layer's type, output
    /// shape and parameter shapes, e.g. <c>Conv2D[28,28,32](kernel[3,3,1,32],bias[32]) → …</c>.
    /// </summary>
    public static string Architecture(Sequential model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var text = new StringBuilder();
        foreach (ILayer layer in model.Layers)
        {
            if (text.Length > 0)
            {
                text.Append(" -> ");
            }
            string type = layer is Layer typed ? typed.TypeName : layer.GetType().Name;
            text.Append(type).Append(Compact(layer.OutputShape.WithoutBatch()));
            if (layer.Parameters.Count > 0)
            {
                text.Append('(').AppendJoin(',', layer.Parameters.Select(p => p.Name[(p.Name.LastIndexOf('/') + 1)..] + Compact(p.Value.Shape))).Append(')');
            }
        }
        return text.ToString();
    }

    /// <summary>Captures the model's weights, its optimizer's state and the training position (tensors are referenced, not copied).</summary>
    public static CheckpointContents Capture(Sequential model, TrainingPosition position, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new CheckpointContents
        {
            Architecture = Architecture(model),
            Parameters = model.Parameters.Select(p => new NamedTensor(p.Name, p.Value)).ToArray(),
            OptimizerName = model.Optimizer.Name,
            OptimizerStep = model.Optimizer.Iterations,
            OptimizerSlots = model.Optimizer.Slots,
            Epoch = position.Epoch,
            Step = position.Batch,
            RandomStates = new Dictionary<string, ulong[]>
            {
                [TrainingRandomName] = model.TrainingRandom.GetState(),
                [ShuffleName] = [position.ShuffleSeed],
            },
            Metadata = metadata ?? new Dictionary<string, string>(),
        };
    }

    /// <summary>
    /// Restores weights, optimizer state and the dropout random state into a built, compiled model
    /// after checking that everything matches; returns where training stands.
    /// </summary>
    /// <exception cref="CheckpointMismatchException">The checkpoint is of another model or optimizer; the message lists every difference.</exception>
    public static TrainingPosition Restore(Sequential model, CheckpointContents contents)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(contents);
        if (contents.OptimizerName != model.Optimizer.Name)
        {
            throw new CheckpointMismatchException("The checkpoint",
                [$"optimizer: expected '{model.Optimizer.Name}', found '{contents.OptimizerName}'"]);
        }
        CheckpointFile.ValidateAgainst(contents,
            model.Parameters.Select(p => (p.Name, p.Value.Shape)).ToArray(),
            model.Optimizer.Slots.Select(s => (s.Name, s.Value.Shape)).ToArray(),
            Architecture(model));
        if (!contents.RandomStates.TryGetValue(TrainingRandomName, out ulong[]? training)
            || !contents.RandomStates.TryGetValue(ShuffleName, out ulong[]? shuffle) || shuffle.Length != 1)
        {
            throw new CheckpointMismatchException("The checkpoint",
                [$"random states: expected '{TrainingRandomName}' and '{ShuffleName}' (written by a training run), found {contents.RandomStates.Count} others"]);
        }
        var stored = contents.Parameters.Concat(contents.OptimizerSlots).ToDictionary(t => t.Name, StringComparer.Ordinal);
        foreach (Parameter parameter in model.Parameters)
        {
            stored[parameter.Name].Value.ReadOnlySpan.CopyTo(parameter.Value.Span);
        }
        foreach (NamedTensor slot in model.Optimizer.Slots)
        {
            stored[slot.Name].Value.ReadOnlySpan.CopyTo(slot.Value.Span);
        }
        model.Optimizer.Iterations = contents.OptimizerStep;
        model.TrainingRandom.SetState(training);
        return new TrainingPosition(contents.Epoch, checked((int)contents.Step), shuffle[0]);
    }

    private static string Compact(Shape shape) => "[" + string.Join(",", shape.Dimensions.ToArray()) + "]";
}
