using Engine.Initializers;

namespace Engine.Tests.Initializers;

public class InitializerTests
{
    [Test]
    public void GlorotUniformStaysWithinItsLimitAndFillsIt()
    {
        // Conv 3x3, 32 -> 64: fanIn 288, fanOut 576, limit sqrt(6 / 864).
        float[] values = new float[3 * 3 * 32 * 64];
        new GlorotUniform().Fill(values, 288, 576, new RandomSource(1));
        double limit = Math.Sqrt(6.0 / 864);
        Assert.That(values.Max(), Is.LessThanOrEqualTo(limit).And.GreaterThan(0.95 * limit));
        Assert.That(values.Min(), Is.GreaterThanOrEqualTo(-limit).And.LessThan(-0.95 * limit));
        Assert.That(values.Average(v => v), Is.EqualTo(0).Within(0.01 * limit));
        // Uniform: variance limit² / 3.
        Assert.That(values.Average(v => (double)v * v), Is.EqualTo(limit * limit / 3).Within(0.05 * limit * limit / 3));
    }

    [Test]
    public void RandomNormalHasItsMeanAndStandardDeviation()
    {
        float[] values = new float[20_000];
        new RandomNormal(0.5, 0.01).Fill(values, 1, 1, new RandomSource(2));
        double mean = values.Average(v => v);
        double deviation = Math.Sqrt(values.Average(v => (v - mean) * (v - mean)));
        Assert.That(mean, Is.EqualTo(0.5).Within(0.001));
        Assert.That(deviation, Is.EqualTo(0.01).Within(0.0005));
    }

    [Test]
    public void ZerosAndSeedsAreExact()
    {
        float[] values = [1f, 2f];
        new Zeros().Fill(values, 1, 1, new RandomSource(3));
        Assert.That(values, Is.EqualTo(new[] { 0f, 0f }));
        float[] first = new float[8], second = new float[8];
        new GlorotUniform().Fill(first, 4, 4, new RandomSource(9));
        new GlorotUniform().Fill(second, 4, 4, new RandomSource(9));
        Assert.That(second, Is.EqualTo(first));
    }
}
