using global::Mnist;

namespace Engine.Tests.Mnist;

public class DivergenceTests
{
    private static Sequential NewModel()
    {
        Sequential model = ReferenceModels.MnistCnn();
        model.Build(ReferenceModels.MnistInput, new ModelOptions(BatchSize: 4, Seed: 3, Threads: 1));
        return model;
    }

    private static Parameter Parameter(Sequential model, string name) => model.Parameters.Single(p => p.Name == name);

    [Test]
    public void FiniteWeightsWhoseSumOverflowsAreFinite()
    {
        Sequential model = NewModel();
        Assert.That(Divergence.FirstNonFiniteParameter(model), Is.Null);
        Parameter(model, "dense/kernel").Value.Span[..4].Fill(float.MaxValue); // the sum overflows; every value is finite
        Assert.That(Divergence.FirstNonFiniteParameter(model), Is.Null);
    }

    [TestCase(float.NaN)]
    [TestCase(float.PositiveInfinity)]
    [TestCase(float.NegativeInfinity)]
    public void TheFirstParameterHoldingANonFiniteValueIsNamed(float value)
    {
        Sequential model = NewModel();
        Parameter(model, "dense/bias").Value.Span[7] = value;
        Parameter(model, "conv2d_1/bias").Value.Span[0] = value;
        Assert.That(Divergence.FirstNonFiniteParameter(model), Is.EqualTo("conv2d_1/bias"));
    }

    [Test]
    public void TheFirstLayerWhoseOutputIsNotFiniteIsNamedWithItsImages()
    {
        Sequential model = NewModel();
        var images = new Tensor(10, 28, 28, 1);
        images.Span.Fill(0.5f);
        Assert.That(Divergence.FirstNonFiniteLayer(model, images), Is.EqualTo("every layer's output is finite; the loss overflowed."));

        Parameter(model, "conv2d_1/kernel").Value.Span.Fill(float.MaxValue); // its output overflows
        Assert.That(Divergence.FirstNonFiniteLayer(model, images),
            Is.EqualTo("the first non-finite value appears in the output of layer 2 (Conv2D 'conv2d_1') for test images 0..3."));

        Parameter(model, "conv2d_1/kernel").Value.Span.Fill(0.01f);
        images.Span[9 * 28 * 28] = float.NaN; // the first pixel of image 9, in the third batch of 4
        Assert.That(Divergence.FirstNonFiniteLayer(model, images), Is.EqualTo("test images 8..9 hold a value that is not finite."));
    }
}
