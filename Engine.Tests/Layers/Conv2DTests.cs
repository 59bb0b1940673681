using Engine.Layers;

namespace Engine.Tests.Layers;

public class Conv2DTests
{
    public static IEnumerable<string> GoldenCases => Golden.CaseNames("conv2d.json");

    [TestCaseSource(nameof(GoldenCases))]
    public void MatchesTensorFlowGolden(string name)
    {
        var golden = Golden.Case("conv2d.json", name);
        var inputs = golden.GetProperty("inputs");
        var expected = golden.GetProperty("expected");
        Tensor x = Golden.Tensor(inputs.GetProperty("x"));
        Tensor kernel = Golden.Tensor(inputs.GetProperty("kernel"));
        Tensor bias = Golden.Tensor(inputs.GetProperty("bias"));
        Tensor dy = Golden.Tensor(inputs.GetProperty("dy"));
        var parameters = golden.GetProperty("params");

        var layer = LayerHarness.Built(new Conv2D(kernel.Shape[3], new Size2(kernel.Shape[0], kernel.Shape[1]),
            Golden.Pair(parameters.GetProperty("strides")), Golden.Padding(parameters.GetProperty("padding"))), x.Shape);
        kernel.ReadOnlySpan.CopyTo(layer.Kernel.Value.Span);
        bias.ReadOnlySpan.CopyTo(layer.Bias!.Value.Span);

        Tensor y = layer.Forward(x, training: true);
        Golden.AssertClose(y, Golden.Tensor(expected.GetProperty("y")), 1e-5, "y");
        Tensor dx = layer.Backward(dy);
        Golden.AssertClose(dx, Golden.Tensor(expected.GetProperty("dx")), 1e-5, "dx");
        Golden.AssertClose(layer.Kernel.Gradient, Golden.Tensor(expected.GetProperty("dkernel")), 1e-5, "dkernel");
        Golden.AssertClose(layer.Bias.Gradient, Golden.Tensor(expected.GetProperty("dbias")), 1e-5, "dbias");
    }

    /// <summary>The golden cases with one input channel, which Conv2D runs directly when F is a multiple of 32.</summary>
    public static IEnumerable<TestCaseData> OneChannelGoldenCases() =>
        from name in GoldenCases
        where Golden.Tensor(Golden.Case("conv2d.json", name).GetProperty("inputs").GetProperty("x")).Shape[3] == 1
        from computeInputGradient in new[] { true, false }
        select new TestCaseData(name, computeInputGradient);

    [TestCaseSource(nameof(OneChannelGoldenCases))]
    public void MatchesTensorFlowGoldenThroughTheDirectPath(string name, bool computeInputGradient)
    {
        // The golden filters widened to 32 with random extra filters whose dy is zero: the first
        // channels of y and of the gradients are the golden ones, and dx is unchanged.
        var golden = Golden.Case("conv2d.json", name);
        var inputs = golden.GetProperty("inputs");
        var expected = golden.GetProperty("expected");
        Tensor x = Golden.Tensor(inputs.GetProperty("x"));
        Tensor kernel = Golden.Tensor(inputs.GetProperty("kernel"));
        Tensor bias = Golden.Tensor(inputs.GetProperty("bias"));
        Tensor dy = Golden.Tensor(inputs.GetProperty("dy"));
        var parameters = golden.GetProperty("params");
        int goldenFilters = kernel.Shape[3];
        const int Filters = 32;

        var layer = LayerHarness.Built(new Conv2D(Filters, new Size2(kernel.Shape[0], kernel.Shape[1]),
            Golden.Pair(parameters.GetProperty("strides")), Golden.Padding(parameters.GetProperty("padding")),
            biasInitializer: new Engine.Initializers.RandomNormal(0, 1)) { ComputeInputGradient = computeInputGradient }, x.Shape);
        Assert.That(layer.UsesDirectConvolution, Is.EqualTo(Engine.Kernels.DirectConv.IsSupported(layer.Geometry, Filters)));
        if (!layer.UsesDirectConvolution)
        {
            Assert.Ignore("DirectConv's SIMD kernels need AVX-512.");
        }
        CopyColumns(kernel.ReadOnlySpan, goldenFilters, layer.Kernel.Value.Span, Filters);
        CopyColumns(bias.ReadOnlySpan, goldenFilters, layer.Bias!.Value.Span, Filters);
        var wideDy = new Tensor(layer.OutputShape.WithBatch(dy.Shape[0]));
        CopyColumns(dy.ReadOnlySpan, goldenFilters, wideDy.Span, Filters);

        Tensor y = layer.Forward(x, training: true);
        Golden.AssertClose(Columns(y.ReadOnlySpan, Filters, goldenFilters), Golden.Tensor(expected.GetProperty("y")).ReadOnlySpan, 1e-5, "y");
        Tensor dx = layer.Backward(wideDy);
        if (computeInputGradient)
        {
            Golden.AssertClose(dx, Golden.Tensor(expected.GetProperty("dx")), 1e-5, "dx");
        }
        Golden.AssertClose(Columns(layer.Kernel.Gradient.ReadOnlySpan, Filters, goldenFilters),
            Golden.Tensor(expected.GetProperty("dkernel")).ReadOnlySpan, 1e-5, "dkernel");
        Golden.AssertClose(Columns(layer.Bias.Gradient.ReadOnlySpan, Filters, goldenFilters),
            Golden.Tensor(expected.GetProperty("dbias")).ReadOnlySpan, 1e-5, "dbias");
    }

    /// <summary>Copies rows of <paramref name="narrowWidth"/> floats into the first columns of rows <paramref name="wideWidth"/> wide.</summary>
    private static void CopyColumns(ReadOnlySpan<float> narrow, int narrowWidth, Span<float> wide, int wideWidth)
    {
        for (int row = 0; row < narrow.Length / narrowWidth; row++)
        {
            narrow.Slice(row * narrowWidth, narrowWidth).CopyTo(wide.Slice(row * wideWidth));
        }
    }

    /// <summary>The first <paramref name="narrowWidth"/> columns of rows <paramref name="wideWidth"/> wide.</summary>
    private static float[] Columns(ReadOnlySpan<float> wide, int wideWidth, int narrowWidth)
    {
        float[] narrow = new float[wide.Length / wideWidth * narrowWidth];
        for (int row = 0; row < wide.Length / wideWidth; row++)
        {
            wide.Slice(row * wideWidth, narrowWidth).CopyTo(narrow.AsSpan(row * narrowWidth));
        }
        return narrow;
    }

    public static IEnumerable<string> BasicsCases => Golden.CaseNames("cnn_basics.json");

    [TestCaseSource(nameof(BasicsCases))]
    public void MatchesCnnBasicsGolden(string name)
    {
        var golden = Golden.Case("cnn_basics.json", name);
        var inputs = golden.GetProperty("inputs");
        var expected = golden.GetProperty("expected");
        var parameters = golden.GetProperty("params");
        string op = golden.GetProperty("op").GetString()!;
        double tolerance = golden.TryGetProperty("exact", out var exact) && exact.GetBoolean() ? 0 : 1e-5;
        Tensor x = Golden.Tensor(inputs.GetProperty("x"));

        Tensor Convolve(Tensor input, System.Text.Json.JsonElement settings)
        {
            Tensor kernel = Golden.Tensor(inputs.GetProperty("kernel"));
            var conv = LayerHarness.Built(new Conv2D(kernel.Shape[3], new Size2(kernel.Shape[0], kernel.Shape[1]),
                Golden.Pair(settings.GetProperty("strides")), Golden.Padding(settings.GetProperty("padding")), useBias: false), input.Shape);
            kernel.ReadOnlySpan.CopyTo(conv.Kernel.Value.Span);
            return conv.Forward(input, training: false);
        }

        Tensor Pool(Tensor input, System.Text.Json.JsonElement settings) =>
            LayerHarness.Built(new MaxPool2D(Golden.Pair(settings.GetProperty("pool")), Golden.Pair(settings.GetProperty("strides")),
                Golden.Padding(settings.GetProperty("padding"))), input.Shape).Forward(input, training: false);

        switch (op)
        {
            case "conv2d":
                Golden.AssertClose(Convolve(x, parameters), Golden.Tensor(expected.GetProperty("y")), tolerance, "y");
                break;
            case "max_pool2d":
                Golden.AssertClose(Pool(x, parameters), Golden.Tensor(expected.GetProperty("y")), 0, "y");
                break;
            case "conv2d+max_pool2d":
                Tensor conv = Convolve(x, parameters.GetProperty("conv"));
                Golden.AssertClose(conv, Golden.Tensor(expected.GetProperty("conv")), tolerance, "conv");
                Golden.AssertClose(Pool(conv, parameters.GetProperty("pool")), Golden.Tensor(expected.GetProperty("y")), tolerance, "y");
                break;
            default:
                Assert.Fail($"Unknown op {op}");
                break;
        }
    }
}

public class Conv2DGradientTests
{
    [TestCase(5, 6, 2, 3, 3, 3, 1, 1, Padding.Same, false)]
    [TestCase(7, 6, 3, 4, 3, 2, 2, 1, Padding.Same, false)]
    [TestCase(9, 8, 2, 3, 4, 4, 2, 2, Padding.Same, true)]
    [TestCase(8, 7, 2, 2, 2, 3, 2, 3, Padding.Valid, false)]
    [TestCase(6, 6, 3, 5, 1, 1, 2, 2, Padding.Valid, true)]
    public void BackwardMatchesCentralDifferences(int height, int width, int channels, int filters,
        int kernelHeight, int kernelWidth, int strideHeight, int strideWidth, Padding padding, bool relu)
    {
        var input = GradientCheck.SpreadValues(new Shape(2, height, width, channels), seed: height * 31 + width);
        var layer = LayerHarness.Built(new Conv2D(filters, new Size2(kernelHeight, kernelWidth), new Size2(strideHeight, strideWidth), padding,
            relu ? Activation.Relu : Activation.None, biasInitializer: new Engine.Initializers.RandomNormal(0, 0.1)), input.Shape);
        GradientCheck.Layer(layer, input, step: relu ? 1e-3 : 1e-2);
    }

    // One input channel and 32 filters: the direct path (DirectConv), with and without dInput. (With a
    // ReLU, 5x5 taps at stride 1 move too many pre-activations across zero for central differences.)
    [TestCase(5, 6, 3, 3, 1, 1, Padding.Same, true, true)]
    [TestCase(5, 6, 3, 3, 1, 1, Padding.Same, true, false)]
    [TestCase(7, 6, 3, 2, 2, 1, Padding.Same, false, true)]
    [TestCase(9, 8, 4, 4, 2, 2, Padding.Same, true, false)]
    [TestCase(8, 7, 2, 3, 2, 3, Padding.Valid, false, false)]
    [TestCase(7, 7, 5, 5, 1, 1, Padding.Same, false, true)]
    [TestCase(9, 8, 5, 5, 2, 2, Padding.Same, true, false)]
    public void DirectPathMatchesCentralDifferences(int height, int width, int kernelHeight, int kernelWidth,
        int strideHeight, int strideWidth, Padding padding, bool relu, bool computeInputGradient)
    {
        var input = GradientCheck.SpreadValues(new Shape(2, height, width, 1), seed: height * 31 + width);
        var layer = LayerHarness.Built(new Conv2D(32, new Size2(kernelHeight, kernelWidth), new Size2(strideHeight, strideWidth), padding,
            relu ? Activation.Relu : Activation.None, biasInitializer: new Engine.Initializers.RandomNormal(0, 0.1))
        { ComputeInputGradient = computeInputGradient }, input.Shape);
        Assert.That(layer.UsesDirectConvolution, Is.EqualTo(Engine.Kernels.DirectConv.IsSupported(layer.Geometry, 32)));
        GradientCheck.Layer(layer, input, step: relu ? 1e-3 : 1e-2);
    }

    // Many channels, where central differences in float32 are too coarse: forward and backward against
    // the convolution summed in double. 3x3 stride-1 kernels with C a multiple of 8 and F of 32 run
    // Winograd F(4x4, 3x3) on AVX2 and AVX-512 machines (the input gradient too when C is a multiple of 32); with C
    // of 8 or 16 the input gradient goes through im2col while the kernel gradient is read in place.
    [TestCase(7, 7, 32, 64, Padding.Same, true)]
    [TestCase(7, 7, 64, 128, Padding.Same, true)] // the model's conv3: its Winograd dU (1.13 MiB) is summed over each half of the batch, row of points by row
    [TestCase(14, 14, 32, 64, Padding.Same, false)]
    [TestCase(6, 6, 16, 64, Padding.Same, false)]
    [TestCase(5, 7, 8, 32, Padding.Same, true)]
    [TestCase(7, 6, 32, 32, Padding.Valid, true)]
    [TestCase(8, 8, 16, 32, Padding.Valid, false)]
    [TestCase(7, 7, 64, 128, Padding.Same, true, 1)] // conv3 with one chunk: one half
    [TestCase(7, 7, 64, 128, Padding.Same, false, 9)] // conv3 with 8 chunks of 1-2 examples: halves of 4 chunks
    public void ManyChannelsMatchTheConvolutionInDouble(int height, int width, int channels, int filters, Padding padding, bool relu, int batch = 3)
    {
        var random = new RandomSource((ulong)(height * 131 + channels));
        var input = new Tensor(batch, height, width, channels);
        for (int i = 0; i < input.Length; i++)
        {
            input.Span[i] = (float)random.NextGaussian();
        }
        var layer = LayerHarness.Built(new Conv2D(filters, new Size2(3, 3), new Size2(1, 1), padding,
            relu ? Activation.Relu : Activation.None, biasInitializer: new Engine.Initializers.RandomNormal(0, 0.1)), input.Shape);
        Assert.That(layer.UsesWinograd, Is.EqualTo(Engine.Kernels.IndirectConv.IsSupported(filters) && Engine.Kernels.Winograd.IsSupported(layer.Geometry, filters)));
        Assert.That(Conv2D.BatchKernelGradient(channels, filters), Is.EqualTo(channels * filters > 4096), "dU summed over the batch when larger than 512 KiB");
        var g = layer.Geometry;
        ReadOnlySpan<float> kernel = layer.Parameters[0].Value.ReadOnlySpan, bias = layer.Parameters[1].Value.ReadOnlySpan;
        Tensor output = layer.Forward(input, training: true).Clone();
        int outputs = batch * g.OutputPixels * filters;
        int Tap(int n, int oy, int ox, int i, int j)
        {
            int y = oy - g.PadTop + i, x = ox - g.PadLeft + j;
            return y < 0 || x < 0 || y >= height || x >= width ? -1 : ((n * height + y) * width + x) * channels;
        }
        int Output(int n, int oy, int ox) => ((n * g.OutputHeight + oy) * g.OutputWidth + ox) * filters;

        // The pre-activations in double; dOutput is 0 where one is within 1e-4 of 0 (its mask could flip).
        double[] pre = new double[outputs];
        var dOutput = new Tensor(output.Shape);
        for (int n = 0; n < batch; n++)
        {
            for (int oy = 0; oy < g.OutputHeight; oy++)
            {
                for (int ox = 0; ox < g.OutputWidth; ox++)
                {
                    for (int f = 0; f < filters; f++)
                    {
                        double sum = bias[f];
                        for (int i = 0; i < 3; i++)
                        {
                            for (int j = 0; j < 3; j++)
                            {
                                int at = Tap(n, oy, ox, i, j);
                                for (int c = 0; at >= 0 && c < channels; c++)
                                {
                                    sum += (double)input.ReadOnlySpan[at + c] * kernel[((i * 3 + j) * channels + c) * filters + f];
                                }
                            }
                        }
                        int o = Output(n, oy, ox) + f;
                        pre[o] = sum;
                        dOutput.Span[o] = relu && Math.Abs(sum) < 1e-4 ? 0 : (float)random.NextGaussian();
                    }
                }
            }
        }
        // A first backward leaves its sums in the layer's buffers: the second must start its own, not add to them.
        layer.Backward(dOutput);
        foreach (Parameter parameter in layer.Parameters)
        {
            parameter.Gradient.Clear();
        }
        Tensor dInput = layer.Backward(dOutput).Clone();

        // The gradients in double from dPre = dOutput masked where the pre-activation is positive.
        double[] wantDInput = new double[input.Length], wantDKernel = new double[kernel.Length], wantDBias = new double[filters];
        for (int n = 0; n < batch; n++)
        {
            for (int oy = 0; oy < g.OutputHeight; oy++)
            {
                for (int ox = 0; ox < g.OutputWidth; ox++)
                {
                    for (int f = 0; f < filters; f++)
                    {
                        int o = Output(n, oy, ox) + f;
                        double dPre = !relu || pre[o] > 0 ? dOutput.ReadOnlySpan[o] : 0;
                        wantDBias[f] += dPre;
                        for (int i = 0; i < 3; i++)
                        {
                            for (int j = 0; j < 3; j++)
                            {
                                int at = Tap(n, oy, ox, i, j);
                                for (int c = 0; at >= 0 && c < channels; c++)
                                {
                                    int k = ((i * 3 + j) * channels + c) * filters + f;
                                    wantDKernel[k] += input.ReadOnlySpan[at + c] * dPre;
                                    wantDInput[at + c] += kernel[k] * dPre;
                                }
                            }
                        }
                    }
                }
            }
        }
        double[] activated = pre.Select(x => relu ? Math.Max(x, 0) : x).ToArray();
        AssertClose(output.ReadOnlySpan.ToArray(), activated, "output");
        AssertClose(dInput.ReadOnlySpan.ToArray(), wantDInput, "dInput");
        AssertClose(layer.Parameters[0].Gradient.ReadOnlySpan.ToArray(), wantDKernel, "dKernel");
        AssertClose(layer.Parameters[1].Gradient.ReadOnlySpan.ToArray(), wantDBias, "dBias");
    }

    private static void AssertClose(float[] got, double[] want, string what)
    {
        double scale = Math.Max(1, want.Max(Math.Abs));
        int worst = 0;
        for (int i = 1; i < got.Length; i++)
        {
            worst = Math.Abs(got[i] - want[i]) > Math.Abs(got[worst] - want[worst]) ? i : worst;
        }
        Assert.That(got[worst], Is.EqualTo(want[worst]).Within(1e-5 * scale), $"{what}[{worst}] (scale {scale:G3})");
    }

    [Test]
    public void ErrorsNameWhatWasReceivedAndExpected()
    {
        var layer = new Conv2D(4, 3);
        var notBuilt = Assert.Throws<InvalidOperationException>(() => layer.Forward(new Tensor(1, 5, 5, 1), training: false));
        Assert.That(notBuilt!.Message, Does.Contain("Build"));

        var wrongRank = Assert.Throws<ArgumentException>(() => layer.Build(new Shape(28, 28), LayerHarness.Context()));
        Assert.That(wrongRank!.Message, Does.Contain("rank 4").And.Contain("[28, 28]"));

        LayerHarness.Built(layer, new Shape(2, 5, 5, 1));
        var backwardFirst = Assert.Throws<InvalidOperationException>(() => layer.Backward(new Tensor(2, 3, 3, 4)));
        Assert.That(backwardFirst!.Message, Does.Contain("before Forward"));

        var tooLarge = Assert.Throws<ArgumentException>(() => layer.Forward(new Tensor(3, 5, 5, 1), training: false));
        Assert.That(tooLarge!.Message, Does.Contain("at most 2").And.Contain("3"));

        var mismatched = Assert.Throws<ArgumentException>(() => layer.Forward(new Tensor(2, 6, 5, 1), training: false));
        Assert.That(mismatched!.Message, Does.Contain("[2, 5, 5, 1]").And.Contain("[2, 6, 5, 1]"));

        layer.Forward(new Tensor(2, 5, 5, 1), training: true);
        var wrongGradient = Assert.Throws<ArgumentException>(() => layer.Backward(new Tensor(2, 3, 3, 5)));
        Assert.That(wrongGradient!.Message, Does.Contain("[2, 3, 3, 4]").And.Contain("[2, 3, 3, 5]"));

        var tooSmall = Assert.Throws<ArgumentException>(() => LayerHarness.Built(new Conv2D(1, 4), new Shape(1, 3, 3, 1)));
        Assert.That(tooSmall!.Message, Does.Contain("4x4").And.Contain("[1, 3, 3, 1]"));

        var badFilters = Assert.Throws<ArgumentOutOfRangeException>(() => new Conv2D(0, 3));
        Assert.That(badFilters!.Message, Does.Contain("filters=0"));
    }
}
