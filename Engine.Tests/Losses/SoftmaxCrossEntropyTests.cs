using Engine.Losses;

namespace Engine.Tests.Losses;

public class SoftmaxCrossEntropyTests
{
    public static IEnumerable<string> GoldenCases => Golden.CaseNames("softmax_xent.json");

    [TestCaseSource(nameof(GoldenCases))]
    public void MatchesTensorFlowGolden(string name)
    {
        var golden = Golden.Case("softmax_xent.json", name);
        var inputs = golden.GetProperty("inputs");
        var expected = golden.GetProperty("expected");
        Tensor logits = Golden.Tensor(inputs.GetProperty("logits"));
        Tensor targets = Golden.Tensor(inputs.GetProperty("targets"));
        var loss = new SoftmaxCrossEntropy(logits.Shape[0], logits.Shape[1]);

        float value = loss.Forward(logits, targets);
        double want = expected.GetProperty("loss").GetDouble();
        Assert.That(value, Is.EqualTo(want).Within(1e-5 * Math.Max(1, Math.Abs(want))), "loss");
        Tensor perExample = Golden.Tensor(expected.GetProperty("per_example_loss"));
        for (int n = 0; n < perExample.Length; n++)
        {
            double wantN = perExample.ReadOnlySpan[n];
            Assert.That(loss.PerExampleLoss[n], Is.EqualTo(wantN).Within(1e-5 * Math.Max(1, Math.Abs(wantN))), $"per_example_loss[{n}]");
        }
        Golden.AssertClose(loss.Softmax, Golden.Tensor(expected.GetProperty("softmax")).ReadOnlySpan, 1e-5, "softmax");
        Golden.AssertClose(loss.Backward(), Golden.Tensor(expected.GetProperty("dlogits")), 1e-5, "dlogits");
    }

    [Test]
    public void ExtremeLogitsStayFinite()
    {
        var logits = Tensor.FromValues(new Shape(2, 3), [1000f, -1000f, 0f, -1000f, -1000f, -1000f]);
        var targets = Tensor.FromValues(new Shape(2, 3), [0f, 1f, 0f, 1f, 0f, 0f]);
        var loss = new SoftmaxCrossEntropy(2, 3);
        float value = loss.Forward(logits, targets);
        Assert.That(float.IsFinite(value), Is.True);
        Assert.That(value, Is.EqualTo((2000f + MathF.Log(3f)) / 2).Within(1e-3));
        foreach (float gradient in loss.Backward().ReadOnlySpan)
        {
            Assert.That(float.IsFinite(gradient), Is.True);
        }
    }
}

public class SoftmaxCrossEntropyGradientTests
{
    [Test]
    public void BackwardMatchesCentralDifferences()
    {
        var logits = GradientCheck.SpreadValues(new Shape(3, 7), seed: 2);
        var targets = new Tensor(3, 7);
        targets[0, 1] = 1f;
        targets[1, 6] = 1f;
        targets[2, 0] = 0.25f;
        targets[2, 3] = 0.75f;
        var loss = new SoftmaxCrossEntropy(3, 7);
        loss.Forward(logits, targets);
        Tensor analytic = loss.Backward().Clone();
        GradientCheck.Compare("dLogits", logits, analytic, () => loss.Forward(logits, targets), new RandomSource(1), 1e-2, 2e-3, 64);
    }
}
