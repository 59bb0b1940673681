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
        if (Float512.IsAccelerated && features % Float512.Count == 0)
        {
            AddBias<Float512, Vector512<float>>(bias, rows, relu, values);
        }
        else if (Float256.IsAccelerated && features % Float256.Count == 0)
        {
            AddBias<Float256, Vector256<float>>(bias, rows, relu, values);
        }
        else
        {
            AddBiasReference(bias, rows, relu, values);
        }
    }

    /// <summary><see cref="AddBias"/> a vector of <c>TLanes.Count</c> features at a time (F a multiple of it).</summary>
    internal static unsafe void AddBias<TLanes, TVector>(ReadOnlySpan<float> bias, int rows, bool relu, Span<float> values)
        where TLanes : struct, IFloatVector<TVector>
        where TVector : struct
    {
        int features = bias.Length;
        CheckVectorShape(features, TLanes.Count, values.Length, rows, nameof(values));
        fixed (float* biasPointer = bias, valuesPointer = values)
        {
            for (int column = 0; column < features; column += TLanes.Count)
            {
                TVector b = TLanes.Load(biasPointer + column);
                for (int row = 0; row < rows; row++)
                {
                    float* cell = valuesPointer + (nint)row * features + column;
                    TVector sum = TLanes.Add(TLanes.Load(cell), b);
                    TLanes.Store(cell, relu ? TLanes.Relu(sum) : sum);
                }
            }
        }
    }

    private static void CheckVectorShape(int features, int lanes, int length, int rows, string name)
    {
        if (features % lanes != 0)
        {
            throw new ArgumentException($"The {lanes}-lane bias kernels expect F to be a multiple of {lanes}; received F={features}.", nameof(features));
        }
        if (length < (long)rows * features)
        {
            throw new ArgumentException($"The bias kernels expect {name} to hold at least R·F = {(long)rows * features} values; received {length}.", name);
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
        if (Float512.IsAccelerated && features % Float512.Count == 0)
        {
            BiasGradient<Float512, Vector512<float>>(dOutput, rows, dBias);
        }
        else if (Float256.IsAccelerated && features % Float256.Count == 0)
        {
            BiasGradient<Float256, Vector256<float>>(dOutput, rows, dBias);
        }
        else
        {
            BiasGradientReference(dOutput, rows, dBias);
        }
    }

    /// <summary><see cref="BiasGradient"/> a vector of <c>TLanes.Count</c> features at a time (F a multiple of it).</summary>
    internal static unsafe void BiasGradient<TLanes, TVector>(ReadOnlySpan<float> dOutput, int rows, Span<float> dBias)
        where TLanes : struct, IFloatVector<TVector>
        where TVector : struct
    {
        int features = dBias.Length;
        CheckVectorShape(features, TLanes.Count, dOutput.Length, rows, nameof(dOutput));
        fixed (float* dOutputPointer = dOutput, dBiasPointer = dBias)
        {
            for (int column = 0; column < features; column += TLanes.Count)
            {
                TVector sum = TLanes.Load(dBiasPointer + column);
                for (int row = 0; row < rows; row++)
                {
                    sum = TLanes.Add(sum, TLanes.Load(dOutputPointer + (nint)row * features + column));
                }
                TLanes.Store(dBiasPointer + column, sum);
            }
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
        if (Float512.IsAccelerated)
        {
            ReluBackward<Float512, Vector512<float>>(output, dOutput, dInput);
        }
        else if (Float256.IsAccelerated)
        {
            ReluBackward<Float256, Vector256<float>>(output, dOutput, dInput);
        }
        else
        {
            ReluBackwardReference(output, dOutput, dInput);
        }
    }

    /// <summary><see cref="ReluBackward"/> a vector of <c>TLanes.Count</c> elements at a time, the tail by <see cref="ReluBackwardReference"/>.</summary>
    internal static unsafe void ReluBackward<TLanes, TVector>(ReadOnlySpan<float> output, ReadOnlySpan<float> dOutput, Span<float> dInput)
        where TLanes : struct, IFloatVector<TVector>
        where TVector : struct
    {
        int length = output.Length, index = 0;
        if (dOutput.Length < length || dInput.Length < length)
        {
            throw new ArgumentException($"ReluBackward expects dOutput and dInput to hold the output's {length} values; received {dOutput.Length}, {dInput.Length}.");
        }
        fixed (float* outputPointer = output, dOutputPointer = dOutput, dInputPointer = dInput)
        {
            for (; index <= length - TLanes.Count; index += TLanes.Count)
            {
                TVector positive = TLanes.GreaterThan(TLanes.Load(outputPointer + index), TLanes.Zero);
                TLanes.Store(dInputPointer + index, TLanes.BitwiseAnd(TLanes.Load(dOutputPointer + index), positive));
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
