using Engine.Layers;

namespace Engine.Tests.Layers;

public class DenseTests
{
    public static IEnumerable<string> GoldenCases => Golden.CaseNames("dense.json");

    [TestCaseSource(nameof(GoldenCases))]
    public void MatchesTensorFlowGolden(string name)
    {
        var golden = Golden.Case("dense.json", name);
        var inputs = golden.GetProperty("inputs");
        var expected = golden.GetProperty("expected");
        Tensor x = Golden.Tensor(inputs.GetProperty("x"));
        Tensor kernel = Golden.Tensor(inputs.GetProperty("kernel"));
        var layer = LayerHarness.Built(new Dense(kernel.Shape[1]), x.Shape);
        kernel.ReadOnlySpan.CopyTo(layer.Kernel.Value.Span);
        Golden.Tensor(inputs.GetProperty("bias")).ReadOnlySpan.CopyTo(layer.Bias!.Value.Span);

        Golden.AssertClose(layer.Forward(x, training: true), Golden.Tensor(expected.GetProperty("y")), 1e-5, "y");
        Golden.AssertClose(layer.Backward(Golden.Tensor(inputs.GetProperty("dy"))), Golden.Tensor(expected.GetProperty("dx")), 1e-5, "dx");
        Golden.AssertClose(layer.Kernel.Gradient, Golden.Tensor(expected.GetProperty("dkernel")), 1e-5, "dkernel");
        Golden.AssertClose(layer.Bias.Gradient, Golden.Tensor(expected.GetProperty("dbias")), 1e-5, "dbias");
    }
}

public class DenseGradientTests
{
    [TestCase(3, 7, 5, false)]
    [TestCase(4, 33, 17, true)]
    public void BackwardMatchesCentralDifferences(int batch, int inputs, int units, bool relu)
    {
        var input = GradientCheck.SpreadValues(new Shape(batch, inputs), seed: inputs);
        var layer = LayerHarness.Built(new Dense(units, relu ? Activation.Relu : Activation.None,
            biasInitializer: new Engine.Initializers.RandomNormal(0, 0.1)), input.Shape);
        GradientCheck.Layer(layer, input, step: relu ? 1e-3 : 1e-2);
    }

    [Test]
    public void RejectsInputThatIsNotRankTwo()
    {
        var error = Assert.Throws<ArgumentException>(() => LayerHarness.Built(new Dense(3), new Shape(2, 4, 4, 1)));
        Assert.That(error!.Message, Does.Contain("rank 2").And.Contain("[2, 4, 4, 1]"));
    }
}

public class FlattenTests
{
    [Test]
    public void KeepsNhwcOrderAndPassesGradientsBack()
    {
        var input = GradientCheck.SpreadValues(new Shape(2, 3, 4, 5), seed: 3);
        var layer = LayerHarness.Built(new Flatten(), input.Shape);
        Tensor output = layer.Forward(input, training: true);
        Assert.That(output.Shape, Is.EqualTo(new Shape(2, 60)));
        Assert.That(output[1, (2 * 4 + 3) * 5 + 4], Is.EqualTo(input[1, 2, 3, 4]));
        GradientCheck.Layer(layer, input);
    }
}

public class ReLUGradientTests
{
    [Test]
    public void BackwardMatchesCentralDifferences()
    {
        var input = GradientCheck.SpreadValues(new Shape(3, 4, 5, 2), seed: 5);
        GradientCheck.Layer(LayerHarness.Built(new ReLU(), input.Shape), input, step: 1e-3);
    }
}

public class DropoutTests
{
    [Test]
    public void TrainingDropsAboutRateAndScalesTheRestInferenceIsIdentity()
    {
        var input = new Tensor(100, 256);
        input.Span.Fill(1f);
        var layer = LayerHarness.Built(new Dropout(0.4), input.Shape);
        Tensor output = layer.Forward(input, training: true);
        int kept = 0;
        foreach (float value in output.ReadOnlySpan)
        {
            Assert.That(value, Is.EqualTo(0f).Or.EqualTo((float)(1 / 0.6)));
            kept += value != 0 ? 1 : 0;
        }
        Assert.That(kept / (double)input.Length, Is.EqualTo(0.6).Within(0.02));
        Assert.That(layer.Forward(input, training: false), Is.SameAs(input));
    }

    [Test]
    public void BackwardUsesTheForwardMask()
    {
        var input = GradientCheck.SpreadValues(new Shape(4, 50), seed: 9);
        var layer = LayerHarness.Built(new Dropout(0.5), input.Shape);
        Tensor output = layer.Forward(input, training: true).Clone();
        var dOutput = GradientCheck.SpreadValues(input.Shape, seed: 10);
        Tensor dInput = layer.Backward(dOutput);
        for (int i = 0; i < input.Length; i++)
        {
            float scale = output.ReadOnlySpan[i] / input.ReadOnlySpan[i];
            Assert.That(dInput.ReadOnlySpan[i], Is.EqualTo(dOutput.ReadOnlySpan[i] * scale).Within(1e-6));
        }
    }

    [Test]
    public void RejectsRateOutsideZeroToOne()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout(1.0));
        Assert.That(error!.Message, Does.Contain("rate=1"));
    }
}
