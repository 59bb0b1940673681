using BenchmarkDotNet.Attributes;
using Engine.Layers;

namespace Engine.Benchmarks;

/// <summary>
/// Forward and backward of each reference conv layer alone at batch 100 (the model runs each with the
/// pool after it; TrainingBenchmarks times the whole step).
/// </summary>
[MemoryDiagnoser]
public class LayerBenchmarks
{
    private Conv2D _conv = null!;
    private Tensor _input = null!;
    private Tensor _dOutput = null!;

    /// <summary>The reference conv layer: 1 (28x28x1→32), 2 (14x14x32→64), 3 (7x7x64→128).</summary>
    [Params(1, 2, 3)]
    public int Layer { get; set; }

    /// <summary>Worker threads.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var (size, channels, filters) = Layer switch { 1 => (28, 1, 32), 2 => (14, 32, 64), _ => (7, 64, 128) };
        var random = new RandomSource(1);
        // As in the model, the first layer computes no input gradient.
        _conv = new Conv2D(filters, 3, padding: Padding.Same, activation: Activation.Relu) { Name = "conv", ComputeInputGradient = Layer != 1 };
        _conv.Build(new Shape(100, size, size, channels), new LayerContext(random, random, new Workers(Threads)));
        _input = Filled(new Tensor(100, size, size, channels), random);
        _dOutput = Filled(new Tensor(_conv.OutputShape), random);
    }

    /// <summary>Conv forward (bias and ReLU fused).</summary>
    [Benchmark]
    public Tensor ConvForward() => _conv.Forward(_input, training: true);

    /// <summary>Conv forward then backward (weight and bias gradients, and the input gradient for layers 2 and 3).</summary>
    [Benchmark]
    public Tensor ConvForwardBackward()
    {
        _conv.Forward(_input, training: true);
        return _conv.Backward(_dOutput);
    }

    private static Tensor Filled(Tensor tensor, RandomSource random)
    {
        for (int i = 0; i < tensor.Length; i++)
        {
            tensor.Span[i] = random.NextSingle();
        }
        return tensor;
    }
}
