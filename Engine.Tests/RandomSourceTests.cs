namespace Engine.Tests;

public class RandomSourceTests
{
    [TestCase(0.0, 0)]
    [TestCase(0.4, 1)]
    [TestCase(0.4, 25_600)]
    [TestCase(0.999, 1000)]
    [TestCase(1.0, 1000)]
    [TestCase(0.5, 1000)]
    public void ADropoutMaskDrawsAsNextDoubleDoesAndLeavesTheSameState(double rate, int length)
    {
        var batch = new RandomSource(17);
        var single = new RandomSource(17);
        float[] mask = new float[length];
        batch.FillDropoutMask(mask, rate, 2.5f);

        float[] expected = new float[length];
        for (int index = 0; index < length; index++)
        {
            expected[index] = single.NextDouble() >= rate ? 2.5f : 0f;
        }
        Assert.That(mask, Is.EqualTo(expected));
        Assert.That(batch.GetState(), Is.EqualTo(single.GetState()));
        if (length >= 1000)
        {
            double kept = mask.Count(value => value != 0f) / (double)length;
            Assert.That(kept, Is.EqualTo(1 - rate).Within(0.02), "the share of kept elements");
        }
    }
}
