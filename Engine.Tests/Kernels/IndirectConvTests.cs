using Engine.Kernels;
using static Engine.Tests.Kernels.KernelData;

namespace Engine.Tests.Kernels;

// Shape legend: N batch, H/W input spatial, C channels, KH/KW kernel, OH/OW output spatial, F filters.

public class IndirectConvTests
{
    /// <summary>
    /// (H, W, C, KH, KW, SH, SW, padding): the model's second and third layers, pixel counts that leave
    /// every tail of the 6-pixel tile, strides, 1, 6, 25 taps, a kernel larger than the input, and SAME
    /// with a stride larger than the kernel (the padded image crops).
    /// </summary>
    public static IEnumerable<TestCaseData> Geometries()
    {
        yield return Case(14, 14, 32, 3, 3, 1, 1, Padding.Same);
        yield return Case(7, 7, 64, 3, 3, 1, 1, Padding.Same);
        yield return Case(5, 7, 3, 3, 3, 1, 1, Padding.Same);
        yield return Case(6, 5, 2, 3, 3, 1, 1, Padding.Valid);
        yield return Case(9, 8, 5, 4, 4, 2, 2, Padding.Same);
        yield return Case(8, 7, 4, 2, 3, 2, 3, Padding.Valid);
        yield return Case(6, 6, 7, 1, 1, 1, 1, Padding.Same);
        yield return Case(7, 9, 2, 5, 5, 1, 1, Padding.Same);
        yield return Case(2, 3, 3, 3, 5, 1, 1, Padding.Same);
        yield return Case(1, 1, 16, 3, 3, 1, 1, Padding.Same);
        yield return Case(10, 11, 3, 2, 2, 3, 3, Padding.Same);
    }

    /// <summary>The tile widths this machine runs: AVX-512 (true) and AVX2 (false); an AVX-512 machine runs both.</summary>
    private static IEnumerable<bool> Widths()
    {
        Assume.That(IndirectConv.Supports512 || IndirectConv.Supports256, "neither AVX-512 nor AVX2 with FMA: only the scalar references run");
        if (IndirectConv.Supports512)
        {
            yield return true;
        }
        if (IndirectConv.Supports256)
        {
            yield return false;
        }
    }

    private static string Width(bool use512) => use512 ? "AVX-512" : "AVX2";

    private static TestCaseData Case(int height, int width, int channels, int kernelHeight, int kernelWidth, int strideHeight, int strideWidth, Padding padding) =>
        new TestCaseData(height, width, channels, kernelHeight, kernelWidth, strideHeight, strideWidth, padding);

    [TestCaseSource(nameof(Geometries))]
    public void ForwardEqualsReferenceAndIm2ColGemmBitForBit(int height, int width, int channels, int kernelHeight, int kernelWidth,
        int strideHeight, int strideWidth, Padding padding)
    {
        var geometry = ConvGeometry.TryCreate(height, width, channels, new Size2(kernelHeight, kernelWidth), new Size2(strideHeight, strideWidth), padding)!.Value;
        var random = new RandomSource(5);
        foreach (int filters in new[] { 32, 64, 96, 128 }) // 32 and 96 end with the narrow 12x32 tile
        {
            foreach (int count in new[] { 1, 3 })
            {
                float[] input = Gaussian(count * geometry.InputLength, random);
                float[] padded = new float[count * IndirectConv.PaddedLength(geometry)];
                IndirectConv.Pad(input, geometry, count, padded);
                float[] kernel = Gaussian(geometry.PatchLength * filters, random);
                float[] bias = Gaussian(filters, random);
                int rows = count * geometry.OutputPixels;

                // The im2col path: expand, multiply, add the bias (with ReLU).
                float[] columns = new float[rows * geometry.PatchLength];
                Im2Col.ExpandRows(input, geometry, 0, rows, columns);
                float[] sums = new float[rows * filters];
                Gemm.Multiply(columns, kernel, rows, filters, geometry.PatchLength, sums, accumulate: false);
                foreach (var (withBias, relu) in new[] { (false, false), (true, false), (true, true) })
                {
                    float[] expected = (float[])sums.Clone();
                    if (withBias)
                    {
                        Activations.AddBias(bias, rows, relu, expected);
                    }
                    ReadOnlySpan<float> usedBias = withBias ? bias : ReadOnlySpan<float>.Empty;
                    string what = $"F={filters} N={count} bias={withBias} relu={relu}";

                    float[] panels = new float[kernel.Length];
                    IndirectConv.PackPanels(kernel, geometry.PatchLength, filters, panels);
                    float[] fromPanels = new float[rows * filters];
                    IndirectConv.ForwardPanels(padded, panels, usedBias, geometry, filters, 0, rows, relu, fromPanels);
                    AssertBitEqual(fromPanels, expected, "packed panels (AVX2 tiles) vs im2col + GEMM, " + what);
                    foreach (bool use512 in Widths())
                    {
                        float[] simd = new float[rows * filters];
                        IndirectConv.Forward(padded, kernel, usedBias, geometry, filters, 0, rows, relu, simd, use512);
                        AssertBitEqual(simd, expected, $"SIMD ({Width(use512)}) vs im2col + GEMM, " + what);
                    }
                    float[] scalar = new float[rows * filters];
                    IndirectConv.ForwardReference(padded, kernel, usedBias, geometry, filters, 0, rows, relu, scalar);
                    AssertBitEqual(scalar, expected, "reference vs im2col + GEMM, " + what);

                    // A row range that starts inside an example and ends inside a tile.
                    int first = Math.Min(rows - 1, geometry.OutputPixels / 2 + 1), part = Math.Min(rows - first, 7);
                    foreach (bool use512 in Widths())
                    {
                        float[] range = new float[part * filters + 3];
                        range[^1] = 42f;
                        IndirectConv.Forward(padded, kernel, usedBias, geometry, filters, first, part, relu, range, use512);
                        AssertBitEqual(range[..(part * filters)], expected[(first * filters)..((first + part) * filters)], $"row range ({Width(use512)}), " + what);
                        Assert.That(range[^1], Is.EqualTo(42f), "nothing is written past the rows");
                    }
                }
            }
        }
    }

    [TestCaseSource(nameof(Geometries))]
    public void InputGradientAsAConvolutionEqualsCol2ImWithinRounding(int height, int width, int channels, int kernelHeight, int kernelWidth,
        int strideHeight, int strideWidth, Padding padding)
    {
        if (strideHeight != 1 || strideWidth != 1)
        {
            // Strides above 1 keep the col2im path: the geometry refuses them.
            var strided = ConvGeometry.TryCreate(height, width, channels, new Size2(kernelHeight, kernelWidth), new Size2(strideHeight, strideWidth), padding)!.Value;
            Assert.That(IndirectConv.SupportsInputGradient(strided), Is.False);
            Assert.Throws<ArgumentException>(() => IndirectConv.InputGradientGeometry(strided, 64));
            return;
        }
        var random = new RandomSource(9);
        foreach (int gradientChannels in new[] { 32, 64, 96 })
        {
            // C (the gradient's "filters") must be a multiple of 32; F (its channels) is free.
            var geometry = ConvGeometry.TryCreate(height, width, gradientChannels, new Size2(kernelHeight, kernelWidth), new Size2(1, 1), padding)!.Value;
            int filters = channels + 5;
            const int count = 2;
            int rows = count * geometry.OutputPixels;
            float[] dPre = Gaussian(rows * filters, random);
            float[] kernel = Gaussian(geometry.PatchLength * filters, random);

            // col2im: dColumns = dPre · kernelᵀ, folded back onto the input.
            float[] kernelTransposed = new float[filters * geometry.PatchLength];
            Transpose.Matrix(kernel, geometry.PatchLength, filters, kernelTransposed);
            float[] dColumns = new float[rows * geometry.PatchLength];
            Gemm.Multiply(dPre, kernelTransposed, rows, geometry.PatchLength, filters, dColumns, accumulate: false);
            float[] expected = new float[count * geometry.InputLength];
            Im2Col.Fold(dColumns, geometry, count, expected);

            Assert.That(IndirectConv.SupportsInputGradient(geometry), Is.True);
            ConvGeometry gradient = IndirectConv.InputGradientGeometry(geometry, filters);
            Assert.That((gradient.OutputHeight, gradient.OutputWidth, gradient.Channels), Is.EqualTo((height, width, filters)));
            float[] flipped = new float[kernel.Length];
            IndirectConv.FlipKernel(kernel, kernelHeight, kernelWidth, gradientChannels, filters, flipped);
            float[] padded = new float[count * IndirectConv.PaddedLength(gradient)];
            IndirectConv.Pad(dPre, gradient, count, padded);
            float[] scalar = new float[count * geometry.InputLength];
            IndirectConv.ForwardReference(padded, flipped, default, gradient, gradientChannels, 0, count * height * width, relu: false, scalar);
            float[] actual = Enumerable.Repeat(float.NaN, count * geometry.InputLength).ToArray();
            foreach (bool use512 in Widths())
            {
                actual.AsSpan().Fill(float.NaN);
                IndirectConv.Forward(padded, flipped, default, gradient, gradientChannels, 0, count * height * width, false, actual, use512);
                AssertBitEqual(actual, scalar, $"SIMD ({Width(use512)}) vs its scalar twin, C={gradientChannels}");
            }
            for (int index = 0; index < expected.Length; index++)
            {
                // Different summation orders: equal within float rounding of up to KH·KW·F terms of size ~1.
                Assert.That(actual[index], Is.EqualTo(expected[index]).Within(1e-4 * Math.Sqrt(geometry.PatchLength * filters)),
                    $"dInput[{index}], C={gradientChannels}");
            }
        }
    }

    [TestCaseSource(nameof(Geometries))]
    public void WeightGradientEqualsReferenceAndIm2ColGemmBitForBit(int height, int width, int channels, int kernelHeight, int kernelWidth,
        int strideHeight, int strideWidth, Padding padding)
    {
        var geometry = ConvGeometry.TryCreate(height, width, channels, new Size2(kernelHeight, kernelWidth), new Size2(strideHeight, strideWidth), padding)!.Value;
        var random = new RandomSource(11);
        foreach (int filters in new[] { 64, 128, 32 }) // 32: the scalar path
        {
            foreach (int count in new[] { 1, 5, 40 }) // 40 examples of 14x14: more rows than one block
            {
                float[] input = Gaussian(count * geometry.InputLength, random);
                float[] padded = new float[count * IndirectConv.PaddedLength(geometry)];
                IndirectConv.Pad(input, geometry, count, padded);
                int rows = count * geometry.OutputPixels;
                float[] dPre = Gaussian(rows * filters, random);

                float[] columns = new float[rows * geometry.PatchLength];
                Im2Col.ExpandRows(input, geometry, 0, rows, columns);
                float[] expected = new float[geometry.PatchLength * filters];
                Gemm.MultiplyTransposeA(columns, dPre, rows, filters, geometry.PatchLength, expected, accumulate: false);

                foreach (bool use512 in Widths())
                {
                    float[] actual = Enumerable.Repeat(float.NaN, expected.Length + 1).ToArray();
                    IndirectConv.WeightGradient(padded, dPre, geometry, filters, rows, actual, accumulate: false, use512);
                    AssertBitEqual(actual[..expected.Length], expected, $"SIMD ({Width(use512)}) vs im2col + GEMM, F={filters} N={count}");
                    Assert.That(actual[^1], Is.NaN, "nothing is written past dKernel");
                    if (count == 5)
                    {
                        // Two examples, then three more continuing the same chains: the bits of one pass.
                        int paddedLength = IndirectConv.PaddedLength(geometry), split = 2 * geometry.OutputPixels;
                        float[] twoCalls = new float[expected.Length];
                        IndirectConv.WeightGradient(padded, dPre, geometry, filters, split, twoCalls, accumulate: false, use512);
                        IndirectConv.WeightGradient(padded.AsSpan(2 * paddedLength), dPre.AsSpan(split * filters), geometry, filters, rows - split,
                            twoCalls, accumulate: true, use512);
                        AssertBitEqual(twoCalls, expected, $"two calls ({Width(use512)}), F={filters}");
                    }
                }
                if (count < 40)
                {
                    float[] scalar = new float[expected.Length];
                    IndirectConv.WeightGradientReference(padded, dPre, geometry, filters, rows, scalar);
                    AssertBitEqual(scalar, expected, $"reference vs im2col + GEMM, F={filters} N={count}");
                }
            }
        }
    }

    [TestCase(3, 3, 5, 7)]
    [TestCase(2, 3, 16, 24)]
    [TestCase(3, 3, 64, 128)]
    public void FlipKernelRotatesTheTapsAndSwapsChannelsAndFilters(int kernelHeight, int kernelWidth, int channels, int filters)
    {
        float[] kernel = Gaussian(kernelHeight * kernelWidth * channels * filters, new RandomSource(5));
        float[] flipped = Enumerable.Repeat(float.NaN, kernel.Length).ToArray();
        IndirectConv.FlipKernel(kernel, kernelHeight, kernelWidth, channels, filters, flipped);
        for (int i = 0; i < kernelHeight; i++)
        {
            for (int j = 0; j < kernelWidth; j++)
            {
                for (int c = 0; c < channels; c++)
                {
                    for (int f = 0; f < filters; f++)
                    {
                        float want = kernel[(((kernelHeight - 1 - i) * kernelWidth + kernelWidth - 1 - j) * channels + c) * filters + f];
                        float got = flipped[((i * kernelWidth + j) * filters + f) * channels + c];
                        if (BitConverter.SingleToInt32Bits(got) != BitConverter.SingleToInt32Bits(want))
                        {
                            Assert.Fail($"flipped[{i}, {j}, {f}, {c}] = {got}; expected kernel[{kernelHeight - 1 - i}, {kernelWidth - 1 - j}, {c}, {f}] = {want}");
                        }
                    }
                }
            }
        }
    }

    [Test]
    public void PackPanelsLaysEachSixteenFilterPanelOutRowAfterRow()
    {
        const int patch = 5, filters = 48;
        float[] kernel = Enumerable.Range(0, patch * filters).Select(i => (float)i).ToArray();
        float[] panels = new float[kernel.Length];
        IndirectConv.PackPanels(kernel, patch, filters, panels);
        for (int panel = 0; panel < filters / 16; panel++)
        {
            for (int k = 0; k < patch; k++)
            {
                for (int lane = 0; lane < 16; lane++)
                {
                    Assert.That(panels[(panel * patch + k) * 16 + lane], Is.EqualTo(kernel[k * filters + panel * 16 + lane]), $"panel {panel}, row {k}, lane {lane}");
                }
            }
        }
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => IndirectConv.PackPanels(new float[5 * 40], 5, 40, new float[5 * 40]));
        Assert.That(error!.Message, Does.Contain("F=40"));
        Assert.Throws<ArgumentException>(() => IndirectConv.PackPanels(kernel, patch, filters, new float[kernel.Length - 1]));
    }

    [Test]
    public void PadKeepsTheInputAndZerosTheBorder()
    {
        var geometry = ConvGeometry.TryCreate(3, 4, 2, new Size2(3, 3), new Size2(1, 1), Padding.Same)!.Value;
        float[] input = Enumerable.Range(1, 2 * geometry.InputLength).Select(value => (float)value).ToArray();
        float[] padded = Enumerable.Repeat(-1f, 2 * IndirectConv.PaddedLength(geometry)).ToArray();
        IndirectConv.Pad(input, geometry, 2, padded);
        Assert.That(IndirectConv.PaddedHeight(geometry), Is.EqualTo(5));
        Assert.That(IndirectConv.PaddedWidth(geometry), Is.EqualTo(6));
        for (int n = 0; n < 2; n++)
        {
            for (int row = 0; row < 5; row++)
            {
                for (int column = 0; column < 6; column++)
                {
                    for (int c = 0; c < 2; c++)
                    {
                        float actual = padded[((n * 5 + row) * 6 + column) * 2 + c];
                        bool inside = row is >= 1 and <= 3 && column is >= 1 and <= 4;
                        float expected = inside ? input[((n * 3 + row - 1) * 4 + column - 1) * 2 + c] : 0f;
                        Assert.That(actual, Is.EqualTo(expected), $"n={n} row={row} column={column} c={c}");
                    }
                }
            }
        }
    }

    [Test]
    public void RejectsShortBuffersAndReluWithoutBias()
    {
        var geometry = ConvGeometry.TryCreate(7, 7, 64, new Size2(3, 3), new Size2(1, 1), Padding.Same)!.Value;
        float[] padded = new float[IndirectConv.PaddedLength(geometry)];
        float[] kernel = new float[geometry.PatchLength * 64];
        float[] bias = new float[64];
        float[] output = new float[geometry.OutputPixels * 64];
        var shortPadded = Assert.Throws<ArgumentException>(() =>
            IndirectConv.Forward(padded, kernel, bias, geometry, 64, geometry.OutputPixels - 1, 2, false, output));
        Assert.That(shortPadded!.Message, Does.Contain("padded").And.Contain(IndirectConv.PaddedLength(geometry) * 2 + " floats"));
        var shortKernel = Assert.Throws<ArgumentException>(() =>
            IndirectConv.Forward(padded, kernel.AsSpan(1), bias, geometry, 64, 0, 1, false, output));
        Assert.That(shortKernel!.Message, Does.Contain("kernel"));
        var shortOutput = Assert.Throws<ArgumentException>(() =>
            IndirectConv.Forward(padded, kernel, bias, geometry, 64, 0, geometry.OutputPixels, false, output.AsSpan(1)));
        Assert.That(shortOutput!.Message, Does.Contain("output"));
        var relu = Assert.Throws<ArgumentException>(() =>
            IndirectConv.Forward(padded, kernel, ReadOnlySpan<float>.Empty, geometry, 64, 0, 1, true, output));
        Assert.That(relu!.Message, Does.Contain("ReLU"));
    }
}
