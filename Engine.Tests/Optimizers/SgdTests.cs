using Engine.Optimizers;

namespace Engine.Tests.Optimizers;

public class SgdTests
{
    [Test]
    public void PlainSgdSubtractsTheScaledGradient()
    {
        var parameter = new Parameter("w", Tensor.FromValues(new Shape(3), [1f, -2f, 0.5f]));
        Tensor.FromValues(new Shape(3), [0.5f, 1f, -4f]).ReadOnlySpan.CopyTo(parameter.Gradient.Span);
        var sgd = new Sgd(learningRate: 0.1);
        sgd.Initialize([parameter]);
        sgd.Step([parameter]);
        Assert.That(parameter.Value.ReadOnlySpan.ToArray(), Is.EqualTo(new[] { 1f - 0.05f, -2f - 0.1f, 0.5f + 0.4f }).Within(1e-6));
        Assert.That(sgd.Iterations, Is.EqualTo(1));
        Assert.That(sgd.Slots, Is.Empty);
    }

    [Test]
    public void MomentumFollowsKerasVelocityRule()
    {
        // Keras: velocity = momentum * velocity - lr * g; w += velocity.
        var parameter = new Parameter("w", Tensor.FromValues(new Shape(1), [1f]));
        var sgd = new Sgd(learningRate: 0.1, momentum: 0.9);
        sgd.Initialize([parameter]);
        double w = 1, velocity = 0;
        foreach (float g in new[] { 1f, 0.5f, -2f })
        {
            parameter.Gradient.Span[0] = g;
            sgd.Step([parameter]);
            velocity = 0.9 * velocity - 0.1 * g;
            w += velocity;
            Assert.That(parameter.Value.ReadOnlySpan[0], Is.EqualTo(w).Within(1e-6));
            Assert.That(sgd.Slots[0].Value.ReadOnlySpan[0], Is.EqualTo(velocity).Within(1e-6));
        }
    }

    [Test]
    public void RejectsBadHyperParameters()
    {
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(learningRate: 0))!.Message, Does.Contain("> 0"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(momentum: 1))!.Message, Does.Contain("momentum"));
    }
}
