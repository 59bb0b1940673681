using Engine.Layers;

namespace Engine.Tests;

/// <summary>
/// Central-difference gradient checks of L = Σ y·dy (dy fixed and random), accumulated in double,
/// against a layer's Backward for its input and every parameter.
/// </summary>
public static class GradientCheck
{
    /// <summary>
    /// Checks dInput (unless the layer computes none, as a model's first layer) and every parameter
    /// gradient at up to <paramref name="samples"/> positions each.
    /// </summary>
    public static void Layer(ILayer layer, Tensor input, int seed = 11, double step = 1e-2, double tolerance = 2e-3, int samples = 64)
    {
        var random = new RandomSource((ulong)seed);
        Tensor output = layer.Forward(input, training: true);
        var dOutput = new Tensor(output.Shape);
        for (int i = 0; i < dOutput.Length; i++)
        {
            dOutput.Span[i] = (float)random.NextGaussian();
        }
        foreach (Parameter parameter in layer.Parameters)
        {
            parameter.Gradient.Clear();
        }
        Tensor dInput = layer.Backward(dOutput).Clone();

        double Loss()
        {
            ReadOnlySpan<float> y = layer.Forward(input, training: true).ReadOnlySpan;
            double sum = 0;
            for (int i = 0; i < y.Length; i++)
            {
                sum += (double)y[i] * dOutput.ReadOnlySpan[i];
            }
            return sum;
        }

        if (layer is not Engine.Layers.Layer { ComputeInputGradient: false })
        {
            Compare("dInput", input, dInput, Loss, random, step, tolerance, samples);
        }
        foreach (Parameter parameter in layer.Parameters)
        {
            Compare(parameter.Name, parameter.Value, parameter.Gradient.Clone(), Loss, random, step, tolerance, samples);
        }
    }

    /// <summary>
    /// Compares <paramref name="analytic"/> with central differences of <paramref name="loss"/> over
    /// <paramref name="variable"/>. A position where the differences at step h and h/2 disagree
    /// straddles a kink (ReLU, max) and is replaced by another; at most a quarter may be replaced.
    /// </summary>
    public static void Compare(string what, Tensor variable, Tensor analytic, Func<double> loss, RandomSource random,
        double step, double tolerance, int samples)
    {
        double Numeric(int index, double h)
        {
            float original = variable.Span[index];
            variable.Span[index] = (float)(original + h);
            double plus = loss();
            variable.Span[index] = (float)(original - h);
            double minus = loss();
            variable.Span[index] = original;
            return (plus - minus) / (((double)(float)(original + h)) - (float)(original - h));
        }

        int count = Math.Min(samples, variable.Length);
        int kinks = 0;
        for (int sample = 0; sample < count; sample++)
        {
            int index = variable.Length <= samples ? sample : random.NextInt(variable.Length);
            double numeric = Numeric(index, step);
            double half = Numeric(index, step / 2);
            double bound = tolerance * Math.Max(1, Math.Abs(numeric));
            if (Math.Abs(numeric - half) > bound)
            {
                kinks++;
                Assert.That(kinks, Is.LessThanOrEqualTo(Math.Max(1, count / 4)), $"{what}: too many positions straddle a kink");
                continue;
            }
            double got = analytic.ReadOnlySpan[index];
            Assert.That(got, Is.EqualTo(numeric).Within(bound), $"{what}[{index}]: analytic {got}, numeric {numeric}");
        }
    }

    /// <summary>A tensor of values spread away from each other and from zero, so kinks (ReLU, max) stay more than a step away.</summary>
    public static Tensor SpreadValues(Shape shape, int seed)
    {
        var random = new RandomSource((ulong)seed);
        var tensor = new Tensor(shape);
        Span<float> values = tensor.Span;
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (i - values.Length / 2 + 0.5f) * 0.05f;
        }
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = random.NextInt(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
        return tensor;
    }
}
