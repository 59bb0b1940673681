using Engine.Kernels;
using static Engine.Tests.Kernels.KernelData;

namespace Engine.Tests.Kernels;

// Shape legend: N batch, H/W input spatial, KH/KW kernel, OH/OW output spatial, F filters (C = 1).

public class DirectConvTests
{
    /// <summary>
    /// (H, W, KH, KW, SH, SW, padding): the model's first layer, pixel counts that leave every tail of
    /// the 8-pixel (AVX-512) and 6-pixel (AVX2) tiles, several 64-pixel AVX2 gradient chunks with
    /// several tap blocks, strides, kernels of 1, 6, 9, 25 taps (short and several tap blocks), a kernel
    /// larger than the input, and SAME with a stride larger than the kernel (the padded image crops).
    /// </summary>
    public static IEnumerable<TestCaseData> Geometries()
    {
        yield return Case(28, 28, 3, 3, 1, 1, Padding.Same);
        yield return Case(5, 7, 3, 3, 1, 1, Padding.Same);
        yield return Case(6, 5, 3, 3, 1, 1, Padding.Valid);
        yield return Case(16, 16, 3, 3, 2, 2, Padding.Same);
        yield return Case(9, 8, 4, 4, 2, 2, Padding.Same);
        yield return Case(8, 7, 2, 3, 2, 3, Padding.Valid);
        yield return Case(6, 6, 1, 1, 1, 1, Padding.Same);
        yield return Case(7, 9, 5, 5, 1, 1, Padding.Same);
        yield return Case(2, 3, 3, 5, 1, 1, Padding.Same);
        yield return Case(1, 1, 3, 3, 1, 1, Padding.Same);
        yield return Case(10, 11, 2, 2, 3, 3, Padding.Same);
        yield return Case(8, 10, 1, 2, 3, 3, Padding.Same);
        yield return Case(13, 1, 3, 3, 1, 1, Padding.Same);
        yield return Case(2, 5, 1, 1, 1, 1, Padding.Valid);
        yield return Case(12, 12, 5, 5, 1, 1, Padding.Same);
    }

    private static TestCaseData Case(int height, int width, int kernelHeight, int kernelWidth, int strideHeight, int strideWidth, Padding padding) =>
        new TestCaseData(height, width, kernelHeight, kernelWidth, strideHeight, strideWidth, padding);

    private static readonly int[] FilterCounts = [32, 64];

    private delegate void ForwardKernel(ReadOnlySpan<float> padded, ReadOnlySpan<float> kernel, ReadOnlySpan<float> bias,
        in ConvGeometry geometry, int filters, int count, bool relu, Span<float> output);

    private delegate void WeightGradientKernel(ReadOnlySpan<float> padded, ReadOnlySpan<float> output, ReadOnlySpan<float> dOutput,
        in ConvGeometry geometry, int filters, int count, Span<float> dKernel, Span<float> dBias);

    private static bool HasAvx2 => System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported;

    [TestCaseSource(nameof(Geometries))]
    public void ForwardEqualsReference(int height, int width, int kernelHeight, int kernelWidth, int strideHeight, int strideWidth, Padding padding) =>
        CheckForward(DirectConv.Forward, Geometry(height, width, kernelHeight, kernelWidth, strideHeight, strideWidth, padding));

    [TestCaseSource(nameof(Geometries))]
    public void Forward256EqualsReference(int height, int width, int kernelHeight, int kernelWidth, int strideHeight, int strideWidth, Padding padding)
    {
        Assume.That(HasAvx2, "the AVX2 kernel needs AVX2 and FMA");
        CheckForward(DirectConv.Forward256, Geometry(height, width, kernelHeight, kernelWidth, strideHeight, strideWidth, padding));
    }

    private static void CheckForward(ForwardKernel forward, ConvGeometry geometry)
    {
        var random = new RandomSource(3);
        foreach (int filters in FilterCounts)
        {
            foreach (int count in new[] { 1, 3 })
            {
                float[] padded = Padded(geometry, count, random);
                float[] kernel = Gaussian(geometry.KernelHeight * geometry.KernelWidth * filters, random);
                float[] bias = Gaussian(filters, random);
                foreach (bool withBias in new[] { false, true })
                {
                    foreach (bool relu in new[] { false, true })
                    {
                        float[] simd = Gaussian(count * geometry.OutputPixels * filters + 5, random);
                        float[] scalar = (float[])simd.Clone();
                        ReadOnlySpan<float> usedBias = withBias ? bias : ReadOnlySpan<float>.Empty;
                        forward(padded, kernel, usedBias, geometry, filters, count, relu, simd);
                        DirectConv.ForwardReference(padded, kernel, usedBias, geometry, filters, count, relu, scalar);
                        AssertBitEqual(simd, scalar, $"F={filters} N={count} bias={withBias} relu={relu}");
                    }
                }
            }
        }
    }

    /// <summary>The geometries whose output a 2x2 pool with strides of 2 tiles from the top-left corner, with that pool's padding.</summary>
    public static IEnumerable<TestCaseData> PooledGeometries()
    {
        yield return new TestCaseData(28, 28, 3, 1, Padding.Same, Padding.Same); // the model's first layer and its pool
        yield return new TestCaseData(5, 7, 3, 1, Padding.Same, Padding.Same);   // cut windows: the last row and column
        yield return new TestCaseData(16, 16, 3, 2, Padding.Same, Padding.Valid); // a strided conv, 8x8 -> 4x4
        yield return new TestCaseData(6, 5, 3, 1, Padding.Valid, Padding.Same);  // 4x3 -> 2x2
        yield return new TestCaseData(1, 1, 3, 1, Padding.Same, Padding.Same);
    }

    [TestCaseSource(nameof(PooledGeometries))]
    public void ForwardPooledEqualsTheForwardThenThePoolBitForBit(int height, int width, int kernelSize, int stride, Padding padding, Padding poolPadding)
    {
        var geometry = Geometry(height, width, kernelSize, kernelSize, stride, stride, padding);
        var pool = ConvGeometry.TryCreate(geometry.OutputHeight, geometry.OutputWidth, 32, new Size2(2, 2), new Size2(2, 2), poolPadding)!.Value;
        Assert.That(DirectConv.PoolsWindows(geometry, 32, pool), Is.True);
        Assert.That(DirectConv.PoolsWindowsInKernel(geometry, 32, pool), Is.EqualTo(HasAvx2), "the AVX2 kernel runs wherever AVX2 and FMA do");
        var random = new RandomSource(5);
        foreach (int count in new[] { 1, 3 })
        {
            float[] padded = Padded(geometry, count, random);
            float[] kernel = Gaussian(kernelSize * kernelSize * 32, random);
            float[] bias = Gaussian(32, random);
            int pooledLength = count * pool.OutputPixels * 32;
            foreach (var (withBias, relu, winners) in new[] { (true, true, true), (false, false, true), (true, true, false), (false, true, true) })
            {
                ReadOnlySpan<float> usedBias = withBias ? bias : ReadOnlySpan<float>.Empty;
                string what = $"N={count} bias={withBias} relu={relu} winners={winners}";
                float[] output = new float[count * geometry.OutputPixels * 32];
                DirectConv.ForwardReference(padded, kernel, usedBias, geometry, 32, count, relu, output);
                float[] expected = new float[pooledLength];
                int[] expectedWinners = new int[winners ? pooledLength : 0];
                MaxPool.ForwardReference(output, pool, count, expected, expectedWinners);

                float[] fused = Enumerable.Repeat(float.NaN, pooledLength).ToArray(); // every value must be written
                int[] fusedWinners = Enumerable.Repeat(-1, winners ? pooledLength : 0).ToArray();
                DirectConv.ForwardPooled(padded, kernel, usedBias, geometry, 32, count, relu, pool, fused, fusedWinners);
                AssertBitEqual(fused, expected, $"pooled values, {what}");
                Assert.That(fusedWinners, Is.EqualTo(expectedWinners), $"winners, {what}");
            }
        }
    }

    [Test]
    public void ForwardPooledRejectsAPoolWhoseWindowsDoNotTileTheOutput()
    {
        var geometry = Geometry(7, 7, 3, 3, 1, 1, Padding.Same);
        var valid = ConvGeometry.TryCreate(7, 7, 32, new Size2(2, 2), new Size2(2, 2), Padding.Valid)!.Value; // 3x3 windows: the last row and column unpooled
        Assert.That(DirectConv.PoolsWindows(geometry, 32, valid), Is.False);
        var error = Assert.Throws<ArgumentException>(() => DirectConv.ForwardPooled(new float[DirectConv.PaddedLength(geometry)], new float[9 * 32], [],
            geometry, 32, 1, true, valid, new float[9 * 32], []));
        Assert.That(error!.Message, Does.Contain("3x3 windows over 7x7x32").And.Contain("4x4 windows over 7x7x32"));
    }

    [TestCaseSource(nameof(Geometries))]
    public void WeightGradientEqualsReference(int height, int width, int kernelHeight, int kernelWidth, int strideHeight, int strideWidth, Padding padding) =>
        CheckWeightGradient(DirectConv.WeightGradient, Geometry(height, width, kernelHeight, kernelWidth, strideHeight, strideWidth, padding));

    [TestCaseSource(nameof(Geometries))]
    public void WeightGradient256EqualsReference(int height, int width, int kernelHeight, int kernelWidth, int strideHeight, int strideWidth, Padding padding)
    {
        Assume.That(HasAvx2, "the AVX2 kernel needs AVX2 and FMA");
        CheckWeightGradient(DirectConv.WeightGradient256, Geometry(height, width, kernelHeight, kernelWidth, strideHeight, strideWidth, padding));
    }

    private static void CheckWeightGradient(WeightGradientKernel weightGradient, ConvGeometry geometry)
    {
        var random = new RandomSource(4);
        int taps = geometry.KernelHeight * geometry.KernelWidth;
        foreach (int filters in FilterCounts)
        {
            foreach (int count in new[] { 1, 3 })
            {
                float[] padded = Padded(geometry, count, random);
                int outputLength = count * geometry.OutputPixels * filters;
                float[] output = Gaussian(outputLength, random);
                for (int i = 0; i < output.Length; i += 3)
                {
                    output[i] = 0f; // as a ReLU's output: a third of the gradient is masked
                }
                float[] dOutput = Gaussian(outputLength, random);
                foreach (bool masked in new[] { false, true })
                {
                    foreach (bool withBias in new[] { false, true })
                    {
                        // Both accumulate: the values already there start every chain.
                        float[] dKernelSimd = Gaussian(taps * filters + 5, random), dKernelScalar = (float[])dKernelSimd.Clone();
                        float[] dBiasSimd = Gaussian(filters + 5, random), dBiasScalar = (float[])dBiasSimd.Clone();
                        ReadOnlySpan<float> mask = masked ? output : ReadOnlySpan<float>.Empty;
                        weightGradient(padded, mask, dOutput, geometry, filters, count, dKernelSimd,
                            withBias ? dBiasSimd.AsSpan(0, filters) : Span<float>.Empty);
                        DirectConv.WeightGradientReference(padded, mask, dOutput, geometry, filters, count, dKernelScalar,
                            withBias ? dBiasScalar.AsSpan(0, filters) : Span<float>.Empty);
                        string what = $"F={filters} N={count} masked={masked} bias={withBias}";
                        AssertBitEqual(dKernelSimd, dKernelScalar, "dKernel " + what);
                        AssertBitEqual(dBiasSimd, dBiasScalar, "dBias " + what);
                    }
                }
            }
        }
    }

    [TestCaseSource(nameof(Geometries))]
    public void MatchesIm2ColProducts(int height, int width, int kernelHeight, int kernelWidth, int strideHeight, int strideWidth, Padding padding)
    {
        // The padded image and the window offsets against the independent im2col + GEMM formulation:
        // y = columns · kernel + bias, dKernel = columnsᵀ · dOutput, dBias = Σ rows of dOutput.
        var geometry = Geometry(height, width, kernelHeight, kernelWidth, strideHeight, strideWidth, padding);
        var random = new RandomSource(5);
        const int count = 2, filters = 5;
        int taps = kernelHeight * kernelWidth, rows = count * geometry.OutputPixels;
        float[] input = Gaussian(count * geometry.InputLength, random);
        float[] kernel = Gaussian(taps * filters, random);
        float[] bias = Gaussian(filters, random);
        float[] dOutput = Gaussian(rows * filters, random);

        float[] padded = new float[count * DirectConv.PaddedLength(geometry)];
        DirectConv.Pad(input, geometry, count, padded);
        float[] output = new float[rows * filters], dKernel = new float[taps * filters], dBias = new float[filters];
        DirectConv.ForwardReference(padded, kernel, bias, geometry, filters, count, relu: false, output);
        DirectConv.WeightGradientReference(padded, ReadOnlySpan<float>.Empty, dOutput, geometry, filters, count, dKernel, dBias);

        float[] columns = new float[rows * taps], expected = new float[rows * filters], expectedDKernel = new float[taps * filters];
        Im2Col.Expand(input, geometry, count, columns);
        Gemm.MultiplyReference(columns, kernel, rows, filters, taps, expected, accumulate: false);
        Activations.AddBiasReference(bias, rows, relu: false, expected);
        Gemm.MultiplyTransposeAReference(columns, dOutput, rows, filters, taps, expectedDKernel, accumulate: false);
        float[] expectedDBias = new float[filters];
        Activations.BiasGradientReference(dOutput, rows, expectedDBias);

        Assert.That(output, Is.EqualTo(expected).Within(1e-5f), "output");
        Assert.That(dKernel, Is.EqualTo(expectedDKernel).Within(1e-4f), "dKernel");
        Assert.That(dBias, Is.EqualTo(expectedDBias).Within(1e-5f), "dBias");
    }

    [Test]
    public void PadPutsTheInputAtTheTopLeftPaddingAndZerosAround()
    {
        // 4x4, 3x3 SAME stride 1: one zero row and column on every side.
        var geometry = Geometry(4, 4, 3, 3, 1, 1, Padding.Same);
        float[] input = Enumerable.Range(1, 16).Select(i => (float)i).ToArray();
        float[] padded = Enumerable.Repeat(float.NaN, 36).ToArray();
        DirectConv.Pad(input, geometry, 1, padded);
        Assert.That((DirectConv.PaddedHeight(geometry), DirectConv.PaddedWidth(geometry)), Is.EqualTo((6, 6)));
        for (int row = 0; row < 6; row++)
        {
            for (int column = 0; column < 6; column++)
            {
                bool inside = row is >= 1 and <= 4 && column is >= 1 and <= 4;
                float expected = inside ? input[(row - 1) * 4 + column - 1] : 0f;
                Assert.That(padded[row * 6 + column], Is.EqualTo(expected), $"({row}, {column})");
            }
        }
    }

    [Test]
    public void ThrowsForTooShortBuffersAndMoreThanOneChannel()
    {
        var geometry = Geometry(5, 5, 3, 3, 1, 1, Padding.Same);
        const int filters = 32, count = 2;
        float[] padded = new float[count * DirectConv.PaddedLength(geometry)], kernel = new float[9 * filters], bias = new float[filters];
        float[] output = new float[count * geometry.OutputPixels * filters], dKernel = new float[9 * filters];
        var shortOutput = Assert.Throws<ArgumentException>(() =>
            DirectConv.Forward(padded, kernel, bias, geometry, filters, count, relu: true, output.AsSpan(1)));
        Assert.That(shortOutput!.Message, Does.Contain("output").And.Contain($"{output.Length}").And.Contain($"{output.Length - 1}"));
        Assert.Throws<ArgumentException>(() =>
            DirectConv.Forward(padded.AsSpan(1), kernel, bias, geometry, filters, count, relu: true, output));
        Assert.Throws<ArgumentException>(() =>
            DirectConv.Forward(padded, kernel, bias.AsSpan(1), geometry, filters, count, relu: true, output));
        var shortKernel = Assert.Throws<ArgumentException>(() =>
            DirectConv.WeightGradient(padded, output, output, geometry, filters, count, dKernel.AsSpan(1), bias));
        Assert.That(shortKernel!.Message, Does.Contain("dKernel"));
        Assert.Throws<ArgumentException>(() =>
            DirectConv.WeightGradient(padded, output.AsSpan(1), output, geometry, filters, count, dKernel, bias));
        var three = ConvGeometry.TryCreate(5, 5, 3, new Size2(3, 3), new Size2(1, 1), Padding.Same)!.Value;
        var channels = Assert.Throws<ArgumentOutOfRangeException>(() =>
            DirectConv.ForwardReference(padded, kernel, bias, three, filters, count, relu: true, output));
        Assert.That(channels!.Message, Does.Contain("C=3"));
    }

    [Test]
    public void SupportsOneChannelAndWholeFilterBlocksOnly()
    {
        var one = Geometry(28, 28, 3, 3, 1, 1, Padding.Same);
        var three = ConvGeometry.TryCreate(28, 28, 3, new Size2(3, 3), new Size2(1, 1), Padding.Same)!.Value;
        bool simd = (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Avx512F.IsSupported) || HasAvx2;
        Assert.That(DirectConv.IsSupported(one, 32), Is.EqualTo(simd));
        Assert.That(DirectConv.IsSupported(one, 64), Is.EqualTo(simd));
        Assert.That(DirectConv.IsSupported(one, 16), Is.False);
        Assert.That(DirectConv.IsSupported(three, 32), Is.False);
    }

    private static ConvGeometry Geometry(int height, int width, int kernelHeight, int kernelWidth, int strideHeight, int strideWidth, Padding padding) =>
        ConvGeometry.TryCreate(height, width, 1, new Size2(kernelHeight, kernelWidth), new Size2(strideHeight, strideWidth), padding)!.Value;

    /// <summary>Random padded images with zeros in the padding, as <see cref="DirectConv.Pad"/> makes them.</summary>
    private static float[] Padded(ConvGeometry geometry, int count, RandomSource random)
    {
        float[] padded = new float[count * DirectConv.PaddedLength(geometry)];
        DirectConv.Pad(Gaussian(count * geometry.InputLength, random), geometry, count, padded);
        return padded;
    }
}
