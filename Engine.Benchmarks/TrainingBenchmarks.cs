using BenchmarkDotNet.Attributes;
using Engine.Data;
using Engine.Optimizers;

namespace Engine.Benchmarks;

/// <summary>
/// One Adam training step of the reference model at batch 100 on real MNIST: the first 100 training images
/// and their one-hot labels, the same batch every step. <see cref="EpochTrainingBenchmarks"/> times a whole epoch.
/// </summary>
[MemoryDiagnoser]
public class TrainingBenchmarks
{
    private const int BatchSize = 100;

    private Sequential _model = null!;
    private Tensor _images = null!; // [100, 28, 28, 1]
    private Tensor _labels = null!; // [100, 10]

    /// <summary>Worker threads.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    /// <summary>Loads the batch, builds the model and compiles it with Adam.</summary>
    [GlobalSetup]
    public void Setup()
    {
        MnistDataset train = MnistBenchmarkData.Load(MnistSplit.Train, limit: BatchSize);
        _images = train.Images();
        _labels = train.OneHotLabels();
        _model = ReferenceModels.MnistCnn();
        _model.Build(ReferenceModels.MnistInput, new ModelOptions(BatchSize: BatchSize, Seed: 1, Threads: Threads));
        _model.Compile(new Adam());
    }

    /// <summary>Forward (with dropout), loss, backward and the Adam update; returns the batch's mean loss.</summary>
    [Benchmark]
    [ModelFlops(ModelPass.Training, images: BatchSize)]
    public float TrainStep() => _model.TrainStep(_images, _labels);
}

/// <summary>
/// One full epoch of the reference model through <see cref="Sequential.Fit"/>: the 60,000 MNIST training images
/// in 600 batches of 100, shuffled as the console's <c>train</c> command does (buffer 100,000), with 2 threads.
/// The model keeps training from one iteration to the next; every iteration runs the same epoch order.
/// </summary>
[MemoryDiagnoser]
public class EpochTrainingBenchmarks
{
    private const int BatchSize = 100;
    private const int Images = 60_000;
    private const int Threads = 2;

    private Sequential _model = null!;
    private IBatchSource _batches = null!;

    /// <summary>Loads the training split, builds the model and compiles it with Adam.</summary>
    [GlobalSetup]
    public void Setup()
    {
        MnistDataset train = MnistBenchmarkData.Load(MnistSplit.Train);
        if (train.Count != Images)
        {
            throw new InvalidOperationException($"The epoch benchmark expects the {Images:N0} MNIST training images; the files hold {train.Count:N0}.");
        }
        _batches = train.Batches(BatchSize, new ShuffleOptions(BufferSize: 100_000, Seed: 42));
        _model = ReferenceModels.MnistCnn();
        _model.Build(ReferenceModels.MnistInput, new ModelOptions(BatchSize: BatchSize, Seed: 1, Threads: Threads));
        _model.Compile(new Adam());
    }

    /// <summary>
    /// One epoch (about 11 s on a quiet machine): a JIT pass, one warm-up and three measured iterations of one
    /// epoch each, so the class takes five epochs whatever the job.
    /// </summary>
    [Benchmark]
    [IterationCount(3)]
    [WarmupCount(1)]
    [InvocationCount(1)]
    [ModelFlops(ModelPass.Training, images: Images)]
    public History Epoch() => _model.Fit(_batches, epochs: 1);
}
