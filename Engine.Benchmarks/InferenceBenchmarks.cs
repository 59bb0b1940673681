using BenchmarkDotNet.Attributes;

namespace Engine.Benchmarks;

/// <summary>Predict on 1,000 images with the reference model (no dropout, no gradients).</summary>
[MemoryDiagnoser]
public class InferenceBenchmarks
{
    private Sequential _model = null!;
    private Tensor _images = null!;
    private Tensor _logits = null!;

    /// <summary>The built batch: Predict runs in batches of this size.</summary>
    [Params(100, 1000)]
    public int BatchSize { get; set; }

    /// <summary>Worker threads.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _model = ReferenceModels.MnistCnn();
        _model.Build(ReferenceModels.MnistInput, new ModelOptions(BatchSize: BatchSize, Seed: 1, Threads: Threads));
        var random = new RandomSource(2);
        _images = new Tensor(1000, 28, 28, 1);
        for (int i = 0; i < _images.Length; i++)
        {
            _images.Span[i] = random.NextSingle();
        }
        _logits = new Tensor(1000, 10);
    }

    /// <summary>Logits for 1,000 images; images/s = 1000 / mean.</summary>
    [Benchmark(OperationsPerInvoke = 1000)]
    public Tensor Predict1000()
    {
        _model.Predict(_images, _logits);
        return _logits;
    }
}
