using Engine.Kernels;

namespace Engine.Tests.Kernels;

public class ActivationsTests
{
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
    [TestCase(2, 2, 2, 2, Padding.Valid)]
    [TestCase(2, 2, 2, 2, Padding.Same)]
    [TestCase(3, 3, 1, 1, Padding.Same)]
    [TestCase(3, 2, 2, 1, Padding.Valid)]
    public void Vector512EqualsScalarReferenceIncludingTies(int poolHeight, int poolWidth, int strideHeight, int strideWidth, Padding padding)
    {
        foreach (int channels in new[] { 16, 32, 48 })
        {
            var geometry = Engine.Kernels.ConvGeometry.TryCreate(7, 6, channels, new Size2(poolHeight, poolWidth),
                new Size2(strideHeight, strideWidth), padding)!.Value;
            var random = new RandomSource((ulong)channels);
            // Small integers: many ties, so the first-maximum rule is exercised.
            float[] input = Enumerable.Range(0, 2 * geometry.InputLength).Select(_ => (float)random.NextInt(4) - 2).ToArray();
            int outputLength = 2 * geometry.OutputPixels * channels;
            float[] simd = new float[outputLength], scalar = new float[outputLength];
            int[] simdIndex = new int[outputLength], scalarIndex = new int[outputLength];
            Engine.Kernels.MaxPool.ForwardVector512(input, geometry, 2, simd, simdIndex);
            Engine.Kernels.MaxPool.ForwardReference(input, geometry, 2, scalar, scalarIndex);
            Assert.That(simd, Is.EqualTo(scalar), $"values, C={channels}");
            Assert.That(simdIndex, Is.EqualTo(scalarIndex), $"argmax, C={channels}");
            // Inference: the values without the winners, from both.
            float[] valuesOnly = new float[outputLength], scalarValuesOnly = new float[outputLength];
            Engine.Kernels.MaxPool.ForwardVector512(input, geometry, 2, valuesOnly, default);
            Engine.Kernels.MaxPool.ForwardReference(input, geometry, 2, scalarValuesOnly, default);
            Assert.That(valuesOnly.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(scalar.Select(BitConverter.SingleToInt32Bits)), $"values only, C={channels}");
            Assert.That(scalarValuesOnly.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(scalar.Select(BitConverter.SingleToInt32Bits)), $"reference values only, C={channels}");
        }
    }

    [TestCase(7, 6, 2, 2, Padding.Same, true)]    // the reference model's 7 -> 4 pool (a partial last window)
    [TestCase(28, 28, 2, 2, Padding.Same, true)]
    [TestCase(6, 6, 2, 2, Padding.Valid, true)]
    [TestCase(7, 6, 2, 2, Padding.Valid, false)]  // the last row belongs to no window
    [TestCase(7, 6, 3, 2, Padding.Same, true)]
    public void TiledBackwardEqualsTheScatteringReference(int height, int width, int poolHeight, int poolWidth, Padding padding, bool tiles)
    {
        var geometry = Engine.Kernels.ConvGeometry.TryCreate(height, width, 32, new Size2(poolHeight, poolWidth),
            new Size2(poolHeight, poolWidth), padding)!.Value;
        Assert.That(Engine.Kernels.MaxPool.TilesTheInput(geometry), Is.EqualTo(tiles));
        var random = new RandomSource(3);
        float[] input = Enumerable.Range(0, 2 * geometry.InputLength).Select(_ => (float)random.NextInt(4) - 2).ToArray();
        int outputLength = 2 * geometry.OutputPixels * 32;
        float[] pooled = new float[outputLength];
        int[] winners = new int[outputLength];
        Engine.Kernels.MaxPool.ForwardReference(input, geometry, 2, pooled, winners);
        float[] gradient = Enumerable.Range(0, outputLength).Select(i => i % 7 == 0 ? -0f : (float)random.NextGaussian()).ToArray();
        float[] expected = Enumerable.Repeat(float.NaN, input.Length).ToArray();
        float[] actual = Enumerable.Repeat(float.NaN, input.Length).ToArray();
        Engine.Kernels.MaxPool.BackwardReference(gradient, winners, geometry, 2, expected);
        Engine.Kernels.MaxPool.Backward(gradient, winners, geometry, 2, actual);
        Assert.That(actual.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(expected.Select(BitConverter.SingleToInt32Bits)));
        if (tiles)
        {
            Array.Fill(actual, float.NaN);
            Engine.Kernels.MaxPool.BackwardTiled(gradient, winners, geometry, 2, actual);
            Assert.That(actual.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(expected.Select(BitConverter.SingleToInt32Bits)), "tiled");
        }

        // Masked by the pooled values (a ReLU before the pool): non-positive windows route 0.
        float[] maskedExpected = Enumerable.Repeat(float.NaN, input.Length).ToArray();
        float[] maskedActual = Enumerable.Repeat(float.NaN, input.Length).ToArray();
        Engine.Kernels.MaxPool.BackwardReference(gradient, winners, geometry, 2, maskedExpected, pooled);
        Engine.Kernels.MaxPool.Backward(gradient, winners, geometry, 2, maskedActual, pooled);
        Assert.That(maskedActual.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(maskedExpected.Select(BitConverter.SingleToInt32Bits)), "masked");
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
}

public class BiasKernelTests
{
    [Test]
    public void AddBiasAndBiasGradientEqualTheirScalarReferences()
    {
        var random = new RandomSource(8);
        foreach (int features in new[] { 1, 7, 16, 32, 48, 10 })
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
}
