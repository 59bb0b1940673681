using Engine.Layers;

namespace Engine.Tests.Layers;

public class MaxPool2DTests
{
    public static IEnumerable<string> GoldenCases => Golden.CaseNames("max_pool2d.json");

    [TestCaseSource(nameof(GoldenCases))]
    public void MatchesTensorFlowGolden(string name)
    {
        var golden = Golden.Case("max_pool2d.json", name);
        var inputs = golden.GetProperty("inputs");
        var expected = golden.GetProperty("expected");
        var parameters = golden.GetProperty("params");
        Tensor x = Golden.Tensor(inputs.GetProperty("x"));
        var layer = LayerHarness.Built(new MaxPool2D(Golden.Pair(parameters.GetProperty("pool")),
            Golden.Pair(parameters.GetProperty("strides")), Golden.Padding(parameters.GetProperty("padding"))), x.Shape);

        Golden.AssertClose(layer.Forward(x, training: true), Golden.Tensor(expected.GetProperty("y")), 0, "y");
        Golden.AssertClose(layer.Backward(Golden.Tensor(inputs.GetProperty("dy"))), Golden.Tensor(expected.GetProperty("dx")), 1e-5, "dx");
    }

    [Test]
    public void TiesRouteTheGradientToTheFirstMaximumInRowMajorOrder()
    {
        // One 2x2 window whose four cells are equal: all of dy goes to (0, 0).
        var x = Tensor.FromValues(new Shape(1, 2, 2, 1), [3f, 3f, 3f, 3f]);
        var layer = LayerHarness.Built(new MaxPool2D(), x.Shape);
        layer.Forward(x, training: true);
        Tensor dx = layer.Backward(Tensor.FromValues(new Shape(1, 1, 1, 1), [5f]));
        Assert.That(dx.ReadOnlySpan.ToArray(), Is.EqualTo(new[] { 5f, 0f, 0f, 0f }));

        // Tie between (0, 1) and (1, 0): the earlier row-major one wins.
        x = Tensor.FromValues(new Shape(1, 2, 2, 1), [1f, 7f, 7f, 2f]);
        layer.Forward(x, training: true);
        dx = layer.Backward(Tensor.FromValues(new Shape(1, 1, 1, 1), [5f]));
        Assert.That(dx.ReadOnlySpan.ToArray(), Is.EqualTo(new[] { 0f, 5f, 0f, 0f }));
    }

    [Test]
    public void SamePaddingNeverLetsPaddedCellsWin()
    {
        var x = Tensor.FromValues(new Shape(1, 3, 3, 1), [-9f, -8f, -7f, -6f, -5f, -4f, -3f, -2f, -1f]);
        var layer = LayerHarness.Built(new MaxPool2D(2, padding: Padding.Same), x.Shape);
        Tensor y = layer.Forward(x, training: false);
        Assert.That(y.Shape, Is.EqualTo(new Shape(1, 2, 2, 1)));
        Assert.That(y.ReadOnlySpan.ToArray(), Is.EqualTo(new[] { -5f, -4f, -2f, -1f }));
    }
}

public class MaxPool2DGradientTests
{
    [TestCase(6, 6, 2, 2, 2, 2, 2, Padding.Valid)]
    [TestCase(7, 5, 3, 2, 2, 2, 2, Padding.Same)]
    [TestCase(5, 6, 2, 3, 3, 1, 1, Padding.Same)]
    [TestCase(7, 7, 2, 3, 2, 2, 1, Padding.Valid)]
    public void BackwardMatchesCentralDifferences(int height, int width, int channels, int poolHeight, int poolWidth,
        int strideHeight, int strideWidth, Padding padding)
    {
        var input = GradientCheck.SpreadValues(new Shape(2, height, width, channels), seed: height * 7 + width);
        var layer = LayerHarness.Built(new MaxPool2D(new Size2(poolHeight, poolWidth), new Size2(strideHeight, strideWidth), padding), input.Shape);
        GradientCheck.Layer(layer, input, step: 1e-3);
    }
}
