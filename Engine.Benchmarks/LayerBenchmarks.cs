using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Engine.Layers;

namespace Engine.Benchmarks;

/// <summary>
/// Forward and backward of each of the reference model's layers with multiply-adds, alone, at batch 100: the three
/// convs (the model runs each with the pool after it; TrainingBenchmarks times the whole step) and the 2048→256 dense
/// layer. GFLOP/s counts a direct convolution's FLOPs (<see cref="ReferenceModelFlops"/>): conv2 and conv3 run
/// Winograd, which does fewer multiply-adds, so they can pass the machine's peak.
/// </summary>
[MemoryDiagnoser]
public class LayerBenchmarks
{
    private ILayer _layer = null!;
    private Tensor _input = null!;
    private Tensor _dOutput = null!;

    /// <summary>The layer: conv1 (28x28x1→32), conv2 (14x14x32→64), conv3 (7x7x64→128), dense (2048→256).</summary>
    [Params("conv1", "conv2", "conv3", "dense")]
    public string Layer { get; set; } = "conv1";

    /// <summary>Worker threads.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    /// <summary>
    /// Layer <paramref name="name"/> as the reference model has it, built for batch 100 on <paramref name="threads"/>
    /// threads; its input shape in <paramref name="input"/>.
    /// </summary>
    public static ILayer Build(string name, int threads, RandomSource random, out Shape input)
    {
        Engine.Layers.Layer layer;
        (layer, input) = name switch
        {
            // As in the model, the first layer computes no input gradient.
            "conv1" => ((Engine.Layers.Layer)new Conv2D(32, 3, padding: Padding.Same, activation: Activation.Relu) { ComputeInputGradient = false },
                new Shape(100, 28, 28, 1)),
            "conv2" => (new Conv2D(64, 3, padding: Padding.Same, activation: Activation.Relu), new Shape(100, 14, 14, 32)),
            "conv3" => (new Conv2D(128, 3, padding: Padding.Same, activation: Activation.Relu), new Shape(100, 7, 7, 64)),
            "dense" => (new Dense(256, activation: Activation.Relu), new Shape(100, 2048)),
            _ => throw new ArgumentException($"Unknown layer '{name}'; expected conv1, conv2, conv3 or dense.", nameof(name)),
        };
        layer.Name = name;
        layer.Build(input, new LayerContext(random, random, new Workers(threads)));
        return layer;
    }

    [GlobalSetup]
    public void Setup()
    {
        var random = new RandomSource(1);
        _layer = Build(Layer, Threads, random, out Shape input);
        _input = Filled(new Tensor(input), random);
        _dOutput = Filled(new Tensor(_layer.OutputShape), random);
    }

    /// <summary>The forward (bias and ReLU fused).</summary>
    [Benchmark]
    [LayerFlops(backward: false)]
    public Tensor Forward() => _layer.Forward(_input, training: true);

    /// <summary>The forward then the backward (kernel and bias gradients, and the input gradient but for conv1).</summary>
    [Benchmark]
    [LayerFlops(backward: true)]
    public Tensor ForwardBackward()
    {
        _layer.Forward(_input, training: true);
        return _layer.Backward(_dOutput);
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

/// <summary>
/// The FLOPs of one <see cref="LayerBenchmarks"/> operation: the case's layer's forward, plus its backward when
/// <paramref name="backward"/> (<see cref="ReferenceModelFlops.Forward"/>, <see cref="ReferenceModelFlops.Backward"/>).
/// </summary>
/// <param name="backward">Whether the operation runs the backward too.</param>
[AttributeUsage(AttributeTargets.Method)]
public sealed class LayerFlopsAttribute(bool backward) : FlopCountAttribute
{
    /// <inheritdoc />
    public override double PerOperation(BenchmarkCase benchmarkCase)
    {
        var random = new RandomSource(1);
        ILayer layer = LayerBenchmarks.Build((string)benchmarkCase.Parameters[nameof(LayerBenchmarks.Layer)], threads: 1, random, out _);
        return ReferenceModelFlops.Forward(layer) + (backward ? ReferenceModelFlops.Backward(layer) : 0);
    }
}
