using BenchmarkDotNet.Attributes;
using Engine.Data;

namespace Engine.Benchmarks;

/// <summary>Predict on real MNIST, the first 1,000 test images, with the reference model (no dropout, no gradients).</summary>
[MemoryDiagnoser]
public class InferenceBenchmarks
{
    private Sequential _model = null!;
    private Tensor _images = null!; // [1000, 28, 28, 1]
    private Tensor _logits = null!; // [1000, 10]

    /// <summary>The built batch: Predict runs in batches of this size.</summary>
    [Params(100, 1000)]
    public int BatchSize { get; set; }

    /// <summary>Worker threads.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    /// <summary>Builds the model and loads the images.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _model = ReferenceModels.MnistCnn();
        _model.Build(ReferenceModels.MnistInput, new ModelOptions(BatchSize: BatchSize, Seed: 1, Threads: Threads));
        _images = MnistBenchmarkData.Load(MnistSplit.Test, limit: 1000).Images();
        _logits = new Tensor(1000, 10);
    }

    /// <summary>Logits for 1,000 images; the mean is per image, images/s = 10^9 / mean in ns.</summary>
    [Benchmark(OperationsPerInvoke = 1000)]
    [ModelFlops(ModelPass.Inference, images: 1)]
    public Tensor Predict1000()
    {
        _model.Predict(_images, _logits);
        return _logits;
    }
}
