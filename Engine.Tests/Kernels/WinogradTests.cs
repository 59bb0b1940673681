using Engine.Kernels;
using static Engine.Tests.Kernels.KernelData;

namespace Engine.Tests.Kernels;

// Shape legend: N batch, H/W input spatial, C channels, OH/OW output spatial, F filters.

public class WinogradTests
{
    /// <summary>
    /// (H, W, C, F, padding): the model's second and third layers and their input gradients (C and F
    /// swapped), odd sizes (cut last tiles: 1, 2 or 3 of a tile's 4 rows and columns inside), 1x1 and 2x3
    /// images, VALID, tile counts that are not a multiple of the product tile's 6 rows, and 28x28 (49 tiles an
    /// example: past one kernel-gradient block of 128 tiles with 3 examples).
    /// </summary>
    public static IEnumerable<TestCaseData> Geometries()
    {
        yield return new TestCaseData(14, 14, 32, 64, Padding.Same);
        yield return new TestCaseData(7, 7, 64, 128, Padding.Same);
        yield return new TestCaseData(14, 14, 64, 32, Padding.Same);
        yield return new TestCaseData(7, 7, 128, 64, Padding.Same);
        yield return new TestCaseData(14, 14, 64, 128, Padding.Same);
        yield return new TestCaseData(28, 28, 8, 16, Padding.Same);
        yield return new TestCaseData(5, 9, 8, 16, Padding.Same);
        yield return new TestCaseData(1, 1, 16, 16, Padding.Same);
        yield return new TestCaseData(6, 6, 64, 16, Padding.Same);
        yield return new TestCaseData(2, 3, 8, 48, Padding.Same);
        yield return new TestCaseData(9, 6, 24, 16, Padding.Valid);
        yield return new TestCaseData(11, 13, 8, 16, Padding.Same);
    }

    private static ConvGeometry Geometry(int height, int width, int channels, Padding padding) =>
        ConvGeometry.TryCreate(height, width, channels, new Size2(3, 3), new Size2(1, 1), padding)!.Value;

    [TestCase(8, 16)]
    [TestCase(32, 64)]
    [TestCase(128, 64)]
    public void KernelTransformEqualsItsScalarTwinBitForBit(int channels, int filters)
    {
        float[] kernel = Gaussian(9 * channels * filters, new RandomSource(3));
        float[] simd = new float[Winograd.TransformedLength(channels, filters)];
        float[] scalar = Enumerable.Repeat(float.NaN, simd.Length).ToArray();
        Winograd.TransformKernel(kernel, channels, filters, simd);
        Winograd.TransformKernelReference(kernel, channels, filters, scalar);
        AssertBitEqual(simd, scalar, "U = G·g·Gᵀ");

        // Panel by panel (as the layer runs them in parallel), in any order: the same values.
        float[] byPanel = Enumerable.Repeat(float.NaN, simd.Length).ToArray();
        for (int panel = filters / Winograd.PanelWidth - 1; panel >= 0; panel--)
        {
            Winograd.TransformKernel(kernel, channels, filters, byPanel, panel, 1);
        }
        AssertBitEqual(byPanel, simd, "panel by panel");
    }

    [Test]
    public void KernelTransformIsGgGt()
    {
        // Filter f's 3x3 taps (channel 0) are f + (1..9) / 10; channels 1..7 are zero. U = G·g·Gᵀ written out.
        float[] kernel = new float[9 * 8 * 16];
        for (int tap = 0; tap < 9; tap++)
        {
            for (int f = 0; f < 16; f++)
            {
                kernel[tap * 8 * 16 + f] = f + (tap + 1) / 10f;
            }
        }
        float[] transformed = new float[Winograd.TransformedLength(8, 16)];
        Winograd.TransformKernel(kernel, 8, 16, transformed);
        double[,] g =
        {
            { 1 / 4.0, 0, 0 }, { -1 / 6.0, -1 / 6.0, -1 / 6.0 }, { -1 / 6.0, 1 / 6.0, -1 / 6.0 },
            { 1 / 24.0, 1 / 12.0, 1 / 6.0 }, { 1 / 24.0, -1 / 12.0, 1 / 6.0 }, { 0, 0, 1 },
        };
        for (int f = 0; f < 16; f++)
        {
            for (int r = 0; r < 6; r++)
            {
                for (int c = 0; c < 6; c++)
                {
                    double want = 0;
                    for (int i = 0; i < 3; i++)
                    {
                        for (int j = 0; j < 3; j++)
                        {
                            want += g[r, i] * kernel[(i * 3 + j) * 8 * 16 + f] * g[c, j];
                        }
                    }
                    float got = transformed[(r * 6 + c) * 8 * 16 + f]; // point, panel 0, channel 0
                    Assert.That(got, Is.EqualTo(want).Within(1e-5 * Math.Max(1, Math.Abs(want))), $"U[{r},{c}] of filter {f}");
                }
            }
        }
    }

    /// <summary>
    /// The forward's error bound against the direct convolution, per √(9C) and output scale: twice F(2x2, 3x3)'s,
    /// as its coefficients (up to 8 and down to 1/24) round more. (These cases stay within 1.5e-6.)
    /// </summary>
    private const double Rounding = 2e-6;

    [TestCaseSource(nameof(Geometries))]
    public void ForwardEqualsItsScalarTwinBitForBitAndTheConvolutionWithinRounding(int height, int width, int channels, int filters, Padding padding)
    {
        var geometry = Geometry(height, width, channels, padding);
        var random = new RandomSource(7);
        // 7 examples: with a transformed kernel past 512 KB (C·F ≥ 4096) the forward takes blocks of 24 tiles, so at
        // 14x14 (16 tiles an example) four whole blocks and a partial one, at 7x7 one and a partial one.
        foreach (int count in new[] { 1, 3, 7 })
        {
            float[] input = Gaussian(count * geometry.InputLength, random);
            float[] padded = new float[count * IndirectConv.PaddedLength(geometry)];
            IndirectConv.Pad(input, geometry, count, padded);
            float[] kernel = Gaussian(9 * channels * filters, random);
            float[] bias = Gaussian(filters, random);
            float[] transformed = new float[Winograd.TransformedLength(channels, filters)];
            Winograd.TransformKernel(kernel, channels, filters, transformed);
            int rows = count * geometry.OutputPixels;
            foreach (var (withBias, relu) in new[] { (false, false), (true, false), (true, true), (false, true) })
            {
                ReadOnlySpan<float> usedBias = withBias ? bias : ReadOnlySpan<float>.Empty;
                string what = $"N={count} bias={withBias} relu={relu}";
                float[] simd = Enumerable.Repeat(float.NaN, rows * filters).ToArray(); // every value must be written
                float[] scalar = Enumerable.Repeat(float.NaN, rows * filters).ToArray();
                Winograd.Forward(input, transformed, usedBias, geometry, filters, count, relu, simd);
                Winograd.ForwardReference(input, transformed, usedBias, geometry, filters, count, relu, scalar);
                AssertBitEqual(simd, scalar, what);

                float[] direct = new float[rows * filters];
                IndirectConv.ForwardReference(padded, kernel, usedBias, geometry, filters, 0, rows, relu, direct);
                if (!withBias && relu)
                {
                    Activations.Relu(direct, direct); // the direct reference applies ReLU with the bias only
                }
                double scale = direct.Max(Math.Abs), worst = 0;
                for (int i = 0; i < direct.Length; i++)
                {
                    worst = Math.Max(worst, Math.Abs(simd[i] - direct[i]));
                }
                Assert.That(worst, Is.LessThanOrEqualTo(Rounding * Math.Sqrt(9 * channels) * Math.Max(scale, 1)), $"{what}: against the direct convolution");
                Assert.That(worst, Is.GreaterThan(0), $"{what}: a different chain of operations from the direct sums (else this test checks nothing of the bound)");
            }
        }
    }

    /// <summary>(H, W, C, F, pool padding): the model's pooled layers, odd sizes (cut windows and tiles), a tile's lower windows outside the output (6 rows), VALID on even sizes.</summary>
    public static IEnumerable<TestCaseData> PooledGeometries()
    {
        yield return new TestCaseData(14, 14, 32, 64, Padding.Same);
        yield return new TestCaseData(7, 7, 64, 128, Padding.Same);
        yield return new TestCaseData(5, 9, 8, 16, Padding.Same);
        yield return new TestCaseData(1, 1, 16, 16, Padding.Same);
        yield return new TestCaseData(6, 10, 16, 32, Padding.Valid);
        yield return new TestCaseData(10, 6, 8, 16, Padding.Same);
    }

    [TestCaseSource(nameof(PooledGeometries))]
    public void ForwardPooledEqualsTheForwardThenThePoolBitForBit(int height, int width, int channels, int filters, Padding poolPadding)
    {
        var geometry = Geometry(height, width, channels, Padding.Same);
        var pool = ConvGeometry.TryCreate(height, width, filters, new Size2(2, 2), new Size2(2, 2), poolPadding)!.Value;
        Assert.That(Winograd.PoolsTiles(geometry, filters, pool), Is.True);
        var random = new RandomSource(11);
        foreach (int count in new[] { 1, 3 })
        {
            float[] input = Gaussian(count * geometry.InputLength, random);
            float[] kernel = Gaussian(9 * channels * filters, random);
            float[] bias = Gaussian(filters, random);
            float[] transformed = new float[Winograd.TransformedLength(channels, filters)];
            Winograd.TransformKernel(kernel, channels, filters, transformed);
            int pooledLength = count * pool.OutputPixels * filters;
            foreach (var (withBias, relu, winners) in new[] { (true, true, true), (false, false, true), (true, true, false) })
            {
                ReadOnlySpan<float> usedBias = withBias ? bias : ReadOnlySpan<float>.Empty;
                string what = $"N={count} bias={withBias} relu={relu} winners={winners}";
                float[] output = new float[count * geometry.OutputPixels * filters];
                Winograd.Forward(input, transformed, usedBias, geometry, filters, count, relu, output);
                float[] expected = new float[pooledLength];
                int[] expectedWinners = new int[winners ? pooledLength : 0];
                MaxPool.ForwardReference(output, pool, count, expected, expectedWinners);

                float[] fused = Enumerable.Repeat(float.NaN, pooledLength).ToArray(); // every value must be written
                int[] fusedWinners = Enumerable.Repeat(-1, winners ? pooledLength : 0).ToArray();
                Winograd.ForwardPooled(input, transformed, usedBias, geometry, filters, count, relu, pool, fused, fusedWinners);
                if (relu)
                {
                    Assert.That(expected.Count(value => value == 0f), Is.GreaterThan(0), $"{what}: windows of ReLU zeros (ties: the first cell wins) are tested");
                }
                AssertBitEqual(fused, expected, $"pooled values, {what}");
                Assert.That(fusedWinners, Is.EqualTo(expectedWinners), $"winners, {what}");
            }
        }
    }

    [TestCaseSource(nameof(Geometries))]
    public void WeightGradientEqualsItsScalarTwinBitForBitAndTheConvolutionsWithinRounding(int height, int width, int channels, int filters, Padding padding)
    {
        var geometry = Geometry(height, width, channels, padding);
        var random = new RandomSource(9);
        foreach (int count in new[] { 1, 3 })
        {
            float[] input = Gaussian(count * geometry.InputLength, random);
            float[] padded = new float[count * IndirectConv.PaddedLength(geometry)];
            IndirectConv.Pad(input, geometry, count, padded);
            float[] dPre = Gaussian(count * geometry.OutputPixels * filters, random);
            float[] start = Gaussian(Winograd.TransformedLength(channels, filters), random);
            foreach (bool accumulate in new[] { false, true })
            {
                string what = $"N={count} accumulate={accumulate}";
                float[] simd = accumulate ? (float[])start.Clone() : Enumerable.Repeat(float.NaN, start.Length).ToArray();
                float[] scalar = accumulate ? (float[])start.Clone() : Enumerable.Repeat(float.NaN, start.Length).ToArray();
                Winograd.WeightGradient(input, dPre, geometry, filters, count, simd, accumulate);
                Winograd.WeightGradientReference(input, dPre, geometry, filters, count, scalar, accumulate);
                AssertBitEqual(simd, scalar, $"dU, {what}");
                if (accumulate)
                {
                    continue;
                }
                float[] dKernel = Enumerable.Repeat(float.NaN, 9 * channels * filters).ToArray();
                float[] dKernelScalar = Enumerable.Repeat(float.NaN, 9 * channels * filters).ToArray();
                Winograd.FinishWeightGradient(simd, channels, filters, dKernel);
                Winograd.FinishWeightGradientReference(simd, channels, filters, dKernelScalar);
                AssertBitEqual(dKernel, dKernelScalar, $"Gᵀ·dU·G, {what}");

                float[] direct = new float[dKernel.Length];
                IndirectConv.WeightGradientReference(padded, dPre, geometry, filters, count * geometry.OutputPixels, direct);
                double scale = Math.Max(1, direct.Max(Math.Abs)), worst = 0;
                for (int i = 0; i < direct.Length; i++)
                {
                    worst = Math.Max(worst, Math.Abs(dKernel[i] - direct[i]));
                }
                Assert.That(worst, Is.LessThanOrEqualTo(1e-6 * Math.Sqrt(count * geometry.OutputPixels) * scale), $"{what}: against the direct kernel gradient");
            }
        }
    }

    [TestCase(7, 7, 64, 128)]   // the model's conv3, whose kernel gradient the model sums row by row over the batch
    [TestCase(28, 28, 8, 16)]   // past one kernel-gradient block
    [TestCase(5, 9, 3, 16)]     // C=3: the scalar twin's rows
    public void WeightGradientRowByRowGivesTheWholeCallsBitsAndLeavesTheOtherRows(int height, int width, int channels, int filters)
    {
        // The model's conv3 sums each row of 6 points of dU over every chunk of the batch on its own (in parallel): row
        // by row, and chunk after chunk, the values must be the same bits as one whole call over the same examples.
        var geometry = Geometry(height, width, channels, Padding.Same);
        var random = new RandomSource(13);
        const int count = 3;
        float[] input = Gaussian(count * geometry.InputLength, random);
        float[] dPre = Gaussian(count * geometry.OutputPixels * filters, random);
        int length = Winograd.TransformedLength(channels, filters);
        float[] whole = new float[length];
        Winograd.WeightGradient(input, dPre, geometry, filters, count, whole, accumulate: false);
        float[] rows = Enumerable.Repeat(float.NaN, length).ToArray();
        int inputLength = geometry.InputLength, outputLength = geometry.OutputPixels * filters;
        for (int row = Winograd.PointRows - 1; row >= 0; row--)
        {
            for (int n = 0; n < count; n++) // example by example, as chunk by chunk
            {
                Winograd.WeightGradient(input.AsSpan(n * inputLength, inputLength), dPre.AsSpan(n * outputLength, outputLength), geometry, filters, 1,
                    rows, accumulate: n > 0, firstRow: row, rows: 1);
            }
            for (int c = 0; c < channels; c++)
            {
                for (int point = 0; point < Winograd.Points; point++)
                {
                    int at = (c * Winograd.Points + point) * filters;
                    float[] expected = point / 6 >= row ? whole[at..(at + filters)] : Enumerable.Repeat(float.NaN, filters).ToArray();
                    AssertBitEqual(rows[at..(at + filters)], expected, $"after row {row}: channel {c}, point {point}");
                }
            }
        }

        if (channels % 8 != 0)
        {
            return; // Gᵀ·dU·G takes whole vectors of channels
        }
        float[] dKernel = new float[9 * channels * filters];
        Winograd.FinishWeightGradient(whole, channels, filters, dKernel);
        float[] slices = Enumerable.Repeat(float.NaN, dKernel.Length).ToArray();
        int half = channels / 2;
        Winograd.FinishWeightGradient(whole, channels, filters, slices, half, channels - half);
        for (int tap = 0; tap < 9; tap++)
        {
            int at = (tap * channels + half) * filters;
            Assert.That(slices.AsSpan(tap * channels * filters, half * filters).ToArray(), Is.All.NaN, $"tap {tap}: channels below {half} untouched");
            AssertBitEqual(slices[at..(at + (channels - half) * filters)], dKernel[at..(at + (channels - half) * filters)], $"tap {tap}, channels from {half}");
        }
        Winograd.FinishWeightGradient(whole, channels, filters, slices, 0, half);
        AssertBitEqual(slices, dKernel, "Gᵀ·dU·G in two channel ranges");
    }

    [Test]
    public void WeightGradientOfNoExamplesIsZeroUnlessItAccumulates()
    {
        var geometry = Geometry(7, 7, 64, Padding.Same);
        float[] dU = Enumerable.Repeat(float.NaN, Winograd.TransformedLength(64, 128)).ToArray();
        Winograd.WeightGradient([], [], geometry, 128, 0, dU, accumulate: false);
        Assert.That(dU, Is.All.EqualTo(0f), "no tiles, accumulate: false");
        dU[5] = 2.5f;
        Winograd.WeightGradient([], [], geometry, 128, 0, dU, accumulate: true);
        Assert.That(dU[5], Is.EqualTo(2.5f), "no tiles, accumulate: true leaves dU as it was");
    }

    [Test]
    public void ForwardPooledRejectsAPoolWhoseWindowsAreNotTheTiles()
    {
        var geometry = Geometry(7, 7, 16, Padding.Same);
        var valid = ConvGeometry.TryCreate(7, 7, 16, new Size2(2, 2), new Size2(2, 2), Padding.Valid)!.Value; // 3x3 windows: the last row and column of tiles unpooled
        var overlapping = ConvGeometry.TryCreate(7, 7, 16, new Size2(3, 3), new Size2(2, 2), Padding.Same)!.Value;
        Assert.That(Winograd.PoolsTiles(geometry, 16, valid), Is.False);
        Assert.That(Winograd.PoolsTiles(geometry, 16, overlapping), Is.False);
        float[] transformed = new float[Winograd.TransformedLength(16, 16)];
        var error = Assert.Throws<ArgumentException>(() => Winograd.ForwardPooled(new float[geometry.InputLength], transformed, [], geometry, 16, 1, true,
            valid, new float[9 * 16], []));
        Assert.That(error!.Message, Does.Contain("Winograd.ForwardPooled").And.Contain("3x3 windows over 7x7x16").And.Contain("4x4 windows over 7x7x16"));
    }

    [Test]
    public void IsSupportedOnlyFor3x3StrideOneWithWholeVectors()
    {
        bool machine = System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported;
        Assert.That(Winograd.IsSupported(Geometry(7, 7, 64, Padding.Same), 128), Is.EqualTo(machine));
        Assert.That(Winograd.IsSupported(Geometry(7, 7, 3, Padding.Same), 128), Is.False, "C not a multiple of 8");
        Assert.That(Winograd.IsSupported(Geometry(7, 7, 64, Padding.Same), 40), Is.False, "F not a multiple of 16");
        var strided = ConvGeometry.TryCreate(8, 8, 8, new Size2(3, 3), new Size2(2, 2), Padding.Same)!.Value;
        Assert.That(Winograd.IsSupported(strided, 16), Is.False, "stride 2");
        var wide = ConvGeometry.TryCreate(8, 8, 8, new Size2(5, 5), new Size2(1, 1), Padding.Same)!.Value;
        Assert.That(Winograd.IsSupported(wide, 16), Is.False, "5x5 kernel");
        Assert.That(Winograd.IsSupported(Geometry(4, 4, Winograd.MaxWidth + 8, Padding.Same), 16), Is.False, "C past MaxWidth");
        Assert.That(Winograd.IsSupported(Geometry(4, 4, 8, Padding.Same), Winograd.MaxWidth + 16), Is.False, "F past MaxWidth");
    }

    [Test]
    public void ErrorsNameWhatWasReceivedAndExpected()
    {
        var geometry = Geometry(4, 4, 8, Padding.Same);
        float[] transformed = new float[Winograd.TransformedLength(8, 16)];
        var wide = ConvGeometry.TryCreate(8, 8, 8, new Size2(5, 5), new Size2(1, 1), Padding.Same)!.Value;
        var kernelSize = Assert.Throws<ArgumentException>(() => Winograd.Forward(new float[1000], transformed, default, wide, 16, 1, false, new float[1000]));
        Assert.That(kernelSize!.Message, Does.Contain("3x3").And.Contain("5x5"));

        var shortInput = Assert.Throws<ArgumentException>(() =>
            Winograd.Forward(new float[10], transformed, default, geometry, 16, 1, false, new float[4 * 4 * 16]));
        Assert.That(shortInput!.Message, Does.Contain("input").And.Contain("10").And.Contain(geometry.InputLength.ToString()).And.Contain("N·H·W·C"));

        var shortKernel = Assert.Throws<ArgumentException>(() =>
            Winograd.Forward(new float[geometry.InputLength], new float[16 * 8 * 16], default, geometry, 16, 1, false, new float[4 * 4 * 16]));
        Assert.That(shortKernel!.Message, Does.Contain("transformedKernel").And.Contain("36·C·F"));

        var badFilters = Assert.Throws<ArgumentOutOfRangeException>(() => Winograd.TransformKernel(new float[9 * 8 * 20], 8, 20, new float[36 * 8 * 20]));
        Assert.That(badFilters!.Message, Does.Contain("F=20"));

        var badChannels = Assert.Throws<ArgumentOutOfRangeException>(() => Winograd.TransformKernel(new float[9 * 3 * 16], 3, 16, new float[36 * 3 * 16]));
        Assert.That(badChannels!.Message, Does.Contain("C=3"));

        var badPanels = Assert.Throws<ArgumentOutOfRangeException>(() => Winograd.TransformKernel(new float[9 * 8 * 32], 8, 32, new float[36 * 8 * 32], 1, 2));
        Assert.That(badPanels!.Message, Does.Contain("[0, 2)").And.Contain("received 2 from 1"));

        float[] dU = new float[Winograd.TransformedLength(8, 16)];
        var badRows = Assert.Throws<ArgumentOutOfRangeException>(() =>
            Winograd.WeightGradient(new float[geometry.InputLength], new float[4 * 4 * 16], geometry, 16, 1, dU, false, firstRow: 4, rows: 3));
        Assert.That(badRows!.Message, Does.Contain("[0, 6)").And.Contain("[4, 7)"));

        var badChannelRange = Assert.Throws<ArgumentOutOfRangeException>(() => Winograd.FinishWeightGradient(dU, 8, 16, new float[9 * 8 * 16], 6, 4));
        Assert.That(badChannelRange!.Message, Does.Contain("[0, 8)").And.Contain("[6, 10)"));

        var shortOutput = Assert.Throws<ArgumentException>(() =>
            Winograd.Forward(new float[geometry.InputLength], transformed, default, geometry, 16, 1, false, new float[5]));
        Assert.That(shortOutput!.Message, Does.Contain("output").And.Contain("N·OH·OW·F"));
    }
}
