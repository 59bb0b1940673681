using System.Runtime.Intrinsics;
using Engine.Kernels;

namespace Engine.Tests.Kernels;

public class ActivationsTests
{
    /// <summary>
    /// The AVX2 kernels' two-instruction ReLU equals Vector256.Max(x, +0), and MathF.Max(x, 0), bit for bit: NaNs of either
    /// sign with their payloads, both zeros, infinities, subnormals and random bit patterns.
    /// </summary>
    [Test]
    public void Float256ReluEqualsMaxWithZeroBitForBit()
    {
        var values = new List<float>
        {
            float.NaN, -float.NaN, BitConverter.Int32BitsToSingle(0x7fc12345), BitConverter.Int32BitsToSingle(unchecked((int)0xffc12345)),
            BitConverter.Int32BitsToSingle(0x7f800001), 0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon, -float.Epsilon,
            1f, -1f, float.MaxValue, float.MinValue, 1e-40f, -1e-40f,
        };
        var random = new RandomSource(9);
        while (values.Count < 4096)
        {
            values.Add(BitConverter.UInt32BitsToSingle((uint)(random.NextDouble() * uint.MaxValue)));
        }
        for (int i = 0; i < values.Count; i += Vector256<float>.Count)
        {
            var x = Vector256.Create(values.GetRange(i, Vector256<float>.Count).ToArray());
            Vector256<float> relu = Float256.Relu(x), max = Vector256.Max(x, Vector256<float>.Zero);
            for (int lane = 0; lane < Vector256<float>.Count; lane++)
            {
                uint input = BitConverter.SingleToUInt32Bits(x[lane]);
                Assert.That(BitConverter.SingleToUInt32Bits(relu[lane]), Is.EqualTo(BitConverter.SingleToUInt32Bits(max[lane])), $"input 0x{input:x8} against Vector256.Max");
                Assert.That(BitConverter.SingleToUInt32Bits(relu[lane]), Is.EqualTo(BitConverter.SingleToUInt32Bits(MathF.Max(x[lane], 0f))), $"input 0x{input:x8} against MathF.Max");
            }
        }
    }

    [Test]
    public void ReluBackwardEqualsScalarReferenceOnEveryTail()
    {
        var random = new RandomSource(4);
        for (int length = 0; length <= 3 * 16 + 1; length++)
        {
            float[] output = new float[length], dOutput = new float[length];
            for (int i = 0; i < length; i++)
            {
                output[i] = i % 3 == 0 ? 0f : (float)random.NextGaussian();
                dOutput[i] = (float)random.NextGaussian();
            }
            float[] simd = new float[length], scalar = new float[length];
            Activations.ReluBackward(output, dOutput, simd);
            Activations.ReluBackwardReference(output, dOutput, scalar);
            Assert.That(simd.Select(BitConverter.SingleToUInt32Bits), Is.EqualTo(scalar.Select(BitConverter.SingleToUInt32Bits)), $"length {length}");
        }
    }

    [TestCase(512)]
    [TestCase(256)]
    public void ReluBackwardOfEveryVectorWidthEqualsScalarReferenceOnEveryTail(int bits)
    {
        var random = new RandomSource(4);
        for (int length = 0; length <= 3 * 16 + 1; length++)
        {
            float[] output = new float[length], dOutput = new float[length];
            for (int i = 0; i < length; i++)
            {
                output[i] = i % 3 == 0 ? (i % 2 == 0 ? 0f : -0f) : (float)random.NextGaussian();
                dOutput[i] = i % 5 == 0 ? -0f : (float)random.NextGaussian();
            }
            float[] simd = new float[length], scalar = new float[length];
            if (bits == 512)
            {
                Activations.ReluBackward<Float512, Vector512<float>>(output, dOutput, simd);
            }
            else
            {
                Activations.ReluBackward<Float256, Vector256<float>>(output, dOutput, simd);
            }
            Activations.ReluBackwardReference(output, dOutput, scalar);
            Assert.That(simd.Select(BitConverter.SingleToUInt32Bits), Is.EqualTo(scalar.Select(BitConverter.SingleToUInt32Bits)), $"length {length}");
        }
    }
}

public class Im2ColTests
{
    [TestCase(5, 6, 3, 3, 2, 2, 1, Padding.Same)]
    [TestCase(9, 8, 2, 4, 4, 2, 2, Padding.Same)]
    [TestCase(7, 7, 1, 2, 3, 3, 2, Padding.Valid)]
    public void FoldIsTheAdjointOfExpand(int height, int width, int channels, int kernelHeight, int kernelWidth,
        int strideHeight, int strideWidth, Padding padding)
    {
        // <Expand(x), c> == <x, Fold(c)> for random x and c: Fold is exactly the transpose of Expand.
        var geometry = ConvGeometry.TryCreate(height, width, channels, new Size2(kernelHeight, kernelWidth),
            new Size2(strideHeight, strideWidth), padding)!.Value;
        var random = new RandomSource(6);
        float[] x = Enumerable.Range(0, 2 * geometry.InputLength).Select(_ => (float)random.NextGaussian()).ToArray();
        float[] c = Enumerable.Range(0, 2 * geometry.OutputPixels * geometry.PatchLength).Select(_ => (float)random.NextGaussian()).ToArray();
        float[] expanded = new float[c.Length], folded = new float[x.Length];
        Im2Col.Expand(x, geometry, 2, expanded);
        Im2Col.Fold(c, geometry, 2, folded);
        double left = expanded.Zip(c, (a, b) => (double)a * b).Sum();
        double right = x.Zip(folded, (a, b) => (double)a * b).Sum();
        Assert.That(left, Is.EqualTo(right).Within(1e-4 * Math.Max(1, Math.Abs(left))));
    }

    [TestCase(512)]
    [TestCase(256)]
    public void AddVectorsOfEveryWidthEqualsScalarAdditionOnEveryTail(int bits)
    {
        var random = new RandomSource(7);
        for (int length = 0; length <= 3 * 16 + 1; length++)
        {
            float[] target = Enumerable.Range(0, length).Select(i => i % 4 == 0 ? -0f : (float)random.NextGaussian()).ToArray();
            float[] source = Enumerable.Range(0, length).Select(i => i % 3 == 0 ? -0f : (float)random.NextGaussian()).ToArray();
            float[] expected = target.Zip(source, (a, b) => a + b).ToArray();
            int tail = bits == 512 ? Im2Col.AddVectors<Float512, Vector512<float>>(target, source) : Im2Col.AddVectors<Float256, Vector256<float>>(target, source);
            Assert.That(tail, Is.EqualTo(length - length % (bits / 32)), $"length {length}");
            for (int i = tail; i < length; i++)
            {
                target[i] += source[i];
            }
            Assert.That(target.Select(BitConverter.SingleToUInt32Bits), Is.EqualTo(expected.Select(BitConverter.SingleToUInt32Bits)), $"length {length}");
        }
    }

    [Test]
    public void SamePaddingPutsTheExtraRowAfter()
    {
        // 28 -> 14 with k = 3, s = 2: pad top 0, bottom 1.
        var geometry = ConvGeometry.TryCreate(28, 28, 1, 3, 2, Padding.Same)!.Value;
        Assert.That((geometry.OutputHeight, geometry.PadTop, geometry.PadLeft), Is.EqualTo((14, 0, 0)));
        // k = 4, s = 2 on 9: out 5, pad total 3, top 1.
        geometry = ConvGeometry.TryCreate(9, 9, 1, 4, 2, Padding.Same)!.Value;
        Assert.That((geometry.OutputHeight, geometry.PadTop), Is.EqualTo((5, 1)));
        // The model's last pool: 7 -> 4.
        geometry = ConvGeometry.TryCreate(7, 7, 1, 2, 2, Padding.Same)!.Value;
        Assert.That((geometry.OutputHeight, geometry.PadTop), Is.EqualTo((4, 0)));
    }
}

public class MaxPoolKernelTests
{
    [TestCase(512, 2, 2, 2, 2, Padding.Valid)]
    [TestCase(512, 2, 2, 2, 2, Padding.Same)]
    [TestCase(512, 3, 3, 1, 1, Padding.Same)]
    [TestCase(512, 3, 2, 2, 1, Padding.Valid)]
    [TestCase(256, 2, 2, 2, 2, Padding.Valid)]
    [TestCase(256, 2, 2, 2, 2, Padding.Same)]
    [TestCase(256, 3, 3, 1, 1, Padding.Same)]
    [TestCase(256, 3, 2, 2, 1, Padding.Valid)]
    public void VectorForwardOfEveryWidthEqualsScalarReferenceIncludingTies(int bits, int poolHeight, int poolWidth, int strideHeight, int strideWidth,
        Padding padding)
    {
        int lanes = bits / 32;
        foreach (int channels in new[] { lanes, 2 * lanes, 3 * lanes })
        {
            var geometry = Engine.Kernels.ConvGeometry.TryCreate(7, 6, channels, new Size2(poolHeight, poolWidth),
                new Size2(strideHeight, strideWidth), padding)!.Value;
            var random = new RandomSource((ulong)channels);
            // Small integers: many ties, so the first-maximum rule is exercised.
            float[] input = Enumerable.Range(0, 2 * geometry.InputLength).Select(_ => (float)random.NextInt(4) - 2).ToArray();
            int outputLength = 2 * geometry.OutputPixels * channels;
            float[] simd = new float[outputLength], scalar = new float[outputLength];
            int[] simdIndex = new int[outputLength], scalarIndex = new int[outputLength];
            ForwardVector(bits, input, geometry, 2, simd, simdIndex);
            Engine.Kernels.MaxPool.ForwardReference(input, geometry, 2, scalar, scalarIndex);
            Assert.That(simd.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(scalar.Select(BitConverter.SingleToInt32Bits)), $"values, C={channels}");
            Assert.That(simdIndex, Is.EqualTo(scalarIndex), $"argmax, C={channels}");
            // Inference: the values without the winners, from both.
            float[] valuesOnly = new float[outputLength], scalarValuesOnly = new float[outputLength];
            ForwardVector(bits, input, geometry, 2, valuesOnly, default);
            Engine.Kernels.MaxPool.ForwardReference(input, geometry, 2, scalarValuesOnly, default);
            Assert.That(valuesOnly.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(scalar.Select(BitConverter.SingleToInt32Bits)), $"values only, C={channels}");
            Assert.That(scalarValuesOnly.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(scalar.Select(BitConverter.SingleToInt32Bits)), $"reference values only, C={channels}");
        }
    }

    [TestCase(7, 6, 2, 2, Padding.Same, true, 32)]    // the reference model's 7 -> 4 pool (a partial last window)
    [TestCase(28, 28, 2, 2, Padding.Same, true, 32)]
    [TestCase(6, 6, 2, 2, Padding.Valid, true, 32)]
    [TestCase(7, 6, 2, 2, Padding.Valid, false, 32)]  // the last row belongs to no window
    [TestCase(7, 6, 3, 2, Padding.Same, true, 32)]
    [TestCase(7, 6, 2, 2, Padding.Same, true, 24)]    // C a multiple of 8, not of 16: only the 256-bit kernel
    [TestCase(7, 6, 3, 2, Padding.Same, true, 8)]
    public void TiledBackwardEqualsTheScatteringReference(int height, int width, int poolHeight, int poolWidth, Padding padding, bool tiles, int channels)
    {
        var geometry = Engine.Kernels.ConvGeometry.TryCreate(height, width, channels, new Size2(poolHeight, poolWidth),
            new Size2(poolHeight, poolWidth), padding)!.Value;
        Assert.That(Engine.Kernels.MaxPool.TilesTheInput(geometry), Is.EqualTo(tiles));
        var random = new RandomSource(3);
        float[] input = Enumerable.Range(0, 2 * geometry.InputLength).Select(_ => (float)random.NextInt(4) - 2).ToArray();
        int outputLength = 2 * geometry.OutputPixels * channels;
        float[] pooled = new float[outputLength];
        int[] winners = new int[outputLength];
        Engine.Kernels.MaxPool.ForwardReference(input, geometry, 2, pooled, winners);
        float[] gradient = Enumerable.Range(0, outputLength).Select(i => i % 7 == 0 ? -0f : (float)random.NextGaussian()).ToArray();
        float[] expected = Enumerable.Repeat(float.NaN, input.Length).ToArray();
        float[] actual = Enumerable.Repeat(float.NaN, input.Length).ToArray();
        Engine.Kernels.MaxPool.BackwardReference(gradient, winners, geometry, 2, expected);
        Engine.Kernels.MaxPool.Backward(gradient, winners, geometry, 2, actual);
        Assert.That(actual.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(expected.Select(BitConverter.SingleToInt32Bits)));

        // Masked by the pooled values (a ReLU before the pool): non-positive windows route 0.
        float[] maskedExpected = Enumerable.Repeat(float.NaN, input.Length).ToArray();
        float[] maskedActual = Enumerable.Repeat(float.NaN, input.Length).ToArray();
        Engine.Kernels.MaxPool.BackwardReference(gradient, winners, geometry, 2, maskedExpected, pooled);
        Engine.Kernels.MaxPool.Backward(gradient, winners, geometry, 2, maskedActual, pooled);
        Assert.That(maskedActual.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(maskedExpected.Select(BitConverter.SingleToInt32Bits)), "masked");

        if (tiles)
        {
            // Each width's tiled kernel whose lanes divide C, plain and masked.
            foreach (int bits in new[] { 512, 256 }.Where(bits => channels % (bits / 32) == 0))
            {
                Array.Fill(actual, float.NaN);
                BackwardTiled(bits, gradient, winners, geometry, 2, actual, default);
                Assert.That(actual.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(expected.Select(BitConverter.SingleToInt32Bits)), $"tiled {bits}");
                Array.Fill(maskedActual, float.NaN);
                BackwardTiled(bits, gradient, winners, geometry, 2, maskedActual, pooled);
                Assert.That(maskedActual.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(maskedExpected.Select(BitConverter.SingleToInt32Bits)), $"tiled {bits}, masked");
            }
        }
        for (int n = 0; n < 2; n++)
        {
            for (int index = 0; index < outputLength / 2; index++)
            {
                int cell = n * geometry.InputLength + winners[n * outputLength / 2 + index];
                float routed = pooled[n * outputLength / 2 + index] > 0f ? gradient[n * outputLength / 2 + index] + 0f : 0f;
                if (tiles)
                {
                    Assert.That(maskedExpected[cell], Is.EqualTo(routed), $"winner of window {index}");
                }
            }
        }
        Assert.That(maskedExpected.Count(v => v != 0f), Is.LessThan(expected.Count(v => v != 0f)), "some windows are masked");
    }

    private static void ForwardVector(int bits, float[] input, in Engine.Kernels.ConvGeometry geometry, int count, float[] output, int[]? argmax)
    {
        if (bits == 512)
        {
            Engine.Kernels.MaxPool.ForwardVector<Float512, Vector512<float>>(input, geometry, count, output, argmax);
        }
        else
        {
            Engine.Kernels.MaxPool.ForwardVector<Float256, Vector256<float>>(input, geometry, count, output, argmax);
        }
    }

    private static void BackwardTiled(int bits, float[] dOutput, int[] argmax, in Engine.Kernels.ConvGeometry geometry, int count, float[] dInput, float[]? output)
    {
        if (bits == 512)
        {
            Engine.Kernels.MaxPool.BackwardTiled<Float512, Vector512<float>>(dOutput, argmax, geometry, count, dInput, output);
        }
        else
        {
            Engine.Kernels.MaxPool.BackwardTiled<Float256, Vector256<float>>(dOutput, argmax, geometry, count, dInput, output);
        }
    }
}

public class BiasKernelTests
{
    [Test]
    public void AddBiasAndBiasGradientEqualTheirScalarReferences()
    {
        var random = new RandomSource(8);
        foreach (int features in new[] { 1, 7, 8, 16, 24, 32, 48, 10 })
        {
            foreach (int rows in new[] { 0, 1, 5, 33 })
            {
                float[] bias = Enumerable.Range(0, features).Select(_ => (float)random.NextGaussian()).ToArray();
                float[] values = Enumerable.Range(0, rows * features).Select(_ => (float)random.NextGaussian()).ToArray();
                foreach (bool relu in new[] { false, true })
                {
                    float[] simd = (float[])values.Clone(), scalar = (float[])values.Clone();
                    Engine.Kernels.Activations.AddBias(bias, rows, relu, simd);
                    Engine.Kernels.Activations.AddBiasReference(bias, rows, relu, scalar);
                    Assert.That(simd, Is.EqualTo(scalar), $"AddBias F={features} R={rows} relu={relu}");
                }
                float[] gradient = (float[])bias.Clone(), gradientReference = (float[])bias.Clone();
                Engine.Kernels.Activations.BiasGradient(values, rows, gradient);
                Engine.Kernels.Activations.BiasGradientReference(values, rows, gradientReference);
                Assert.That(gradient.Select(BitConverter.SingleToUInt32Bits), Is.EqualTo(gradientReference.Select(BitConverter.SingleToUInt32Bits)),
                    $"BiasGradient F={features} R={rows}");
            }
        }
    }

    /// <summary>Each width's kernels directly (hardware when the machine has it), F a multiple of its lanes; values with ±0 so ReLU's sign of zero is held too.</summary>
    [TestCase(512)]
    [TestCase(256)]
    public void EveryVectorWidthEqualsTheScalarReferencesBitForBit(int bits)
    {
        var random = new RandomSource(9);
        int lanes = bits / 32;
        foreach (int features in new[] { lanes, 2 * lanes, 3 * lanes })
        {
            foreach (int rows in new[] { 0, 1, 5, 33 })
            {
                float[] bias = Enumerable.Range(0, features).Select(i => i % 5 == 0 ? -0f : (float)random.NextGaussian()).ToArray();
                float[] values = Enumerable.Range(0, rows * features).Select(i => i % 6 == 0 ? -0f : i % 3 == 0 ? 0f : (float)random.NextGaussian()).ToArray();
                foreach (bool relu in new[] { false, true })
                {
                    float[] simd = (float[])values.Clone(), scalar = (float[])values.Clone();
                    if (bits == 512)
                    {
                        Engine.Kernels.Activations.AddBias<Float512, Vector512<float>>(bias, rows, relu, simd);
                    }
                    else
                    {
                        Engine.Kernels.Activations.AddBias<Float256, Vector256<float>>(bias, rows, relu, simd);
                    }
                    Engine.Kernels.Activations.AddBiasReference(bias, rows, relu, scalar);
                    Assert.That(simd.Select(BitConverter.SingleToUInt32Bits), Is.EqualTo(scalar.Select(BitConverter.SingleToUInt32Bits)),
                        $"AddBias F={features} R={rows} relu={relu}");
                }
                float[] gradient = (float[])bias.Clone(), gradientReference = (float[])bias.Clone();
                if (bits == 512)
                {
                    Engine.Kernels.Activations.BiasGradient<Float512, Vector512<float>>(values, rows, gradient);
                }
                else
                {
                    Engine.Kernels.Activations.BiasGradient<Float256, Vector256<float>>(values, rows, gradient);
                }
                Engine.Kernels.Activations.BiasGradientReference(values, rows, gradientReference);
                Assert.That(gradient.Select(BitConverter.SingleToUInt32Bits), Is.EqualTo(gradientReference.Select(BitConverter.SingleToUInt32Bits)),
                    $"BiasGradient F={features} R={rows}");
            }
        }
    }
}
