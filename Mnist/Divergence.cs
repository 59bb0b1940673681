using Engine;
using Engine.Layers;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Mnist;

/// <summary>
/// The console's two checks for non-finite values beside the engine's (<see cref="Sequential.TrainStep"/> checks
/// each step's loss and gradients): the weights after each update, and where the forward pass first overflows when
/// the test loss after an epoch is NaN or infinite (weights so large that a layer overflows).
/// </summary>
internal static class Divergence
{
    /// <summary>
    /// Runs <paramref name="images"/> [N, 28, 28, 1] through the layers of <paramref name="model"/> one batch at a
    /// time and names the first layer whose output holds a NaN or an infinity, with the batch's image range.
    /// </summary>
    public static string FirstNonFiniteLayer(Sequential model, Tensor images)
    {
        int total = images.Shape[0], batchSize = model.Options.BatchSize;
        for (int start = 0; start < total; start += batchSize)
        {
            int count = Math.Min(batchSize, total - start);
            Tensor activation = images.SliceBatch(start, count);
            if (!AllFinite(activation.ReadOnlySpan))
            {
                return $"test images {start}..{start + count - 1} hold a value that is not finite.";
            }
            for (int index = 0; index < model.Layers.Count; index++)
            {
                ILayer layer = model.Layers[index];
                activation = layer.Forward(activation, training: false);
                if (!AllFinite(activation.ReadOnlySpan))
                {
                    return $"the first non-finite value appears in the output of layer {index} ({layer.GetType().Name} '{layer.Name}') for test images {start}..{start + count - 1}.";
                }
            }
        }
        return "every layer's output is finite; the loss overflowed.";
    }

    /// <summary>
    /// The name of the first parameter (layer order) holding a NaN or an infinity, or null when every one is finite.
    /// After a step whose loss and gradients were finite, an overflowing update (weights or Adam moments beyond
    /// float32) is what leaves one.
    /// </summary>
    public static string? FirstNonFiniteParameter(Sequential model)
    {
        foreach (Parameter parameter in model.Parameters)
        {
            ReadOnlySpan<float> values = parameter.Value.ReadOnlySpan;
            // The sum is finite when every value is, unless the sum itself overflows: then look value by value.
            if (!float.IsFinite(TensorPrimitives.Sum(values)) && !AllFinite(values))
            {
                return parameter.Name;
            }
        }
        return null;
    }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (float value in values)
        {
            if (!float.IsFinite(value))
            {
                return false;
            }
        }
        return true;
    }
}
