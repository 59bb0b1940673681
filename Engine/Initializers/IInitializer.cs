namespace Engine.Initializers;

/// <summary>Fills a new parameter tensor with its initial values.</summary>
public interface IInitializer
{
    /// <summary>Fills <paramref name="values"/>; <paramref name="fanIn"/> and <paramref name="fanOut"/> as Keras computes them.</summary>
    void Fill(Span<float> values, int fanIn, int fanOut, RandomSource random);
}

/// <summary>Glorot (Xavier) uniform: U(-limit, limit), limit = sqrt(6 / (fanIn + fanOut)). Keras's default kernel initializer.</summary>
public sealed class GlorotUniform : IInitializer
{
    /// <inheritdoc />
    public void Fill(Span<float> values, int fanIn, int fanOut, RandomSource random)
    {
        double limit = Math.Sqrt(6.0 / (fanIn + fanOut));
        for (int index = 0; index < values.Length; index++)
        {
            values[index] = (float)((random.NextDouble() * 2.0 - 1.0) * limit);
        }
    }
}

/// <summary>All zeros. Keras's default bias initializer.</summary>
public sealed class Zeros : IInitializer
{
    /// <inheritdoc />
    public void Fill(Span<float> values, int fanIn, int fanOut, RandomSource random) => values.Clear();
}

/// <summary>Normal samples N(mean, stddev²).</summary>
/// <param name="Mean">The mean.</param>
/// <param name="StandardDeviation">The standard deviation (Keras's default 0.05).</param>
public sealed record RandomNormal(double Mean = 0.0, double StandardDeviation = 0.05) : IInitializer
{
    /// <inheritdoc />
    public void Fill(Span<float> values, int fanIn, int fanOut, RandomSource random)
    {
        if (!(StandardDeviation >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(StandardDeviation), $"Expected a standard deviation >= 0; received {StandardDeviation}.");
        }
        for (int index = 0; index < values.Length; index++)
        {
            values[index] = (float)(Mean + StandardDeviation * random.NextGaussian());
        }
    }
}
