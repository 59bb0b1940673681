using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Engine.Kernels;

// Shape legend: R rows (N·OH·OW pixels, or N examples), F features (filters / units).

/// <summary>Bias, ReLU and their gradients over row-major [R, F] buffers.</summary>
public static class Activations
{
    /// <summary>values[R, F] += bias[F] on every row, then ReLU when <paramref name="relu"/>.</summary>
    public static void AddBias(ReadOnlySpan<float> bias, int rows, bool relu, Span<float> values)
    {
        int features = bias.Length;
        Debug.Assert(values.Length >= rows * features);
        if (!Vector512.IsHardwareAccelerated || features % Vector512<float>.Count != 0)
        {
            AddBiasReference(bias, rows, relu, values);
            return;
        }
        for (int column = 0; column < features; column += Vector512<float>.Count)
        {
            Vector512<float> b = Vector512.Create(bias.Slice(column));
            for (int row = 0; row < rows; row++)
            {
                Span<float> cell = values.Slice(row * features + column, Vector512<float>.Count);
                Vector512<float> sum = Vector512.Create(cell) + b;
                (relu ? Vector512.Max(sum, Vector512<float>.Zero) : sum).CopyTo(cell);
            }
        }
    }

    /// <summary>Scalar reference of <see cref="AddBias"/>.</summary>
    public static void AddBiasReference(ReadOnlySpan<float> bias, int rows, bool relu, Span<float> values)
    {
        int features = bias.Length;
        for (int row = 0; row < rows; row++)
        {
            for (int column = 0; column < features; column++)
            {
                float sum = values[row * features + column] + bias[column];
                values[row * features + column] = relu ? Math.Max(sum, 0f) : sum;
            }
        }
    }

    /// <summary>output = max(input, 0).</summary>
    public static void Relu(ReadOnlySpan<float> input, Span<float> output) => TensorPrimitives.Max(input, 0f, output);

    /// <summary>dBias[F] += Σ over rows of dOutput[R, F], rows in ascending order (the same order in every lane).</summary>
    public static void BiasGradient(ReadOnlySpan<float> dOutput, int rows, Span<float> dBias)
    {
        int features = dBias.Length;
        if (!Vector512.IsHardwareAccelerated || features % Vector512<float>.Count != 0)
        {
            BiasGradientReference(dOutput, rows, dBias);
            return;
        }
        for (int column = 0; column < features; column += Vector512<float>.Count)
        {
            Vector512<float> sum = Vector512.Create(dBias.Slice(column));
            for (int row = 0; row < rows; row++)
            {
                sum += Vector512.Create(dOutput.Slice(row * features + column));
            }
            sum.CopyTo(dBias.Slice(column));
        }
    }

    /// <summary>Scalar reference of <see cref="BiasGradient"/>.</summary>
    public static void BiasGradientReference(ReadOnlySpan<float> dOutput, int rows, Span<float> dBias)
    {
        int features = dBias.Length;
        for (int column = 0; column < features; column++)
        {
            float sum = dBias[column];
            for (int row = 0; row < rows; row++)
            {
                sum += dOutput[row * features + column];
            }
            dBias[column] = sum;
        }
    }

    /// <summary>dInput = dOutput · (output &gt; 0): the ReLU gradient from the ReLU's output (x &gt; 0 ⇔ relu(x) &gt; 0).</summary>
    public static void ReluBackward(ReadOnlySpan<float> output, ReadOnlySpan<float> dOutput, Span<float> dInput)
    {
        Debug.Assert(output.Length == dOutput.Length && dInput.Length >= output.Length);
        int index = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; index <= output.Length - Vector512<float>.Count; index += Vector512<float>.Count)
            {
                var positive = Vector512.GreaterThan(Vector512.Create(output.Slice(index)), Vector512<float>.Zero);
                Vector512.BitwiseAnd(Vector512.Create(dOutput.Slice(index)), positive).CopyTo(dInput.Slice(index));
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; index <= output.Length - Vector256<float>.Count; index += Vector256<float>.Count)
            {
                var positive = Vector256.GreaterThan(Vector256.Create(output.Slice(index)), Vector256<float>.Zero);
                Vector256.BitwiseAnd(Vector256.Create(dOutput.Slice(index)), positive).CopyTo(dInput.Slice(index));
            }
        }
        ReluBackwardReference(output.Slice(index), dOutput.Slice(index), dInput.Slice(index));
    }

    /// <summary>Scalar reference of <see cref="ReluBackward"/>.</summary>
    public static void ReluBackwardReference(ReadOnlySpan<float> output, ReadOnlySpan<float> dOutput, Span<float> dInput)
    {
        for (int index = 0; index < output.Length; index++)
        {
            dInput[index] = output[index] > 0f ? dOutput[index] : 0f;
        }
    }
}
