using Engine.Checkpoint;
using Engine.Layers;
using Engine.Optimizers;

namespace Engine.Tests.Checkpoint;

public class ModelCheckpointTests
{
    /// <summary>Batches in an order that is a function of (seed, epoch) alone, as Engine.Data's shuffled batches.</summary>
    private sealed class SeededBatches(Tensor images, Tensor labels, int batchSize, ulong seed) : IBatchSource
    {
        private readonly Tensor _images = new(batchSize, 28, 28, 1);
        private readonly Tensor _labels = new(batchSize, 10);

        public int ExampleCount => images.Shape[0];

        public int BatchesPerEpoch => ExampleCount / batchSize;

        public IEnumerable<Batch> GetEpoch(int epoch)
        {
            var random = new RandomSource(seed * 1000 + (ulong)epoch);
            int[] order = Enumerable.Range(0, ExampleCount).ToArray();
            for (int i = order.Length - 1; i > 0; i--)
            {
                int j = random.NextInt(i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
            for (int batch = 0; batch < BatchesPerEpoch; batch++)
            {
                for (int k = 0; k < batchSize; k++)
                {
                    int source = order[batch * batchSize + k];
                    images.SliceBatch(source, 1).ReadOnlySpan.CopyTo(_images.SliceBatch(k, 1).Span);
                    labels.SliceBatch(source, 1).ReadOnlySpan.CopyTo(_labels.SliceBatch(k, 1).Span);
                }
                yield return new Batch(_images, _labels);
            }
        }
    }

    private static Sequential NewModel()
    {
        var model = ReferenceModels.MnistCnn();
        model.Build(ReferenceModels.MnistInput, new ModelOptions(BatchSize: 20, Seed: 17, Threads: 2));
        model.Compile(new Adam());
        return model;
    }

    private static uint[] Bits(Sequential model) =>
        model.Parameters.Concat<object>(model.Optimizer.Slots).SelectMany(t => t is Parameter p ? p.Value.ReadOnlySpan.ToArray() : ((NamedTensor)t).Value.ReadOnlySpan.ToArray())
            .Select(BitConverter.SingleToUInt32Bits).ToArray();

    [TestCase(1, 0)]
    [TestCase(1, 2)]
    public void SavingRestoringIntoANewModelAndContinuingEqualsTrainingStraight(int stopEpoch, int stopBatch)
    {
        var (images, labels) = SequentialTests.RandomBatch(60, seed: 5);
        const ulong seed = 9;
        var straight = NewModel();
        straight.Fit(new SeededBatches(images, labels, 20, seed), 3);

        string directory = Directory.CreateTempSubdirectory("engine-resume-").FullName;
        try
        {
            var first = NewModel();
            using var cancel = new CancellationTokenSource();
            first.Fit(new SeededBatches(images, labels, 20, seed), 3, new FitOptions
            {
                OnBatch = p =>
                {
                    bool stop = stopBatch == 0 ? p.Epoch == stopEpoch - 1 && p.Batch == p.BatchesPerEpoch : p.Epoch == stopEpoch && p.Batch == stopBatch;
                    if (stop)
                    {
                        cancel.Cancel();
                    }
                },
                CancellationToken = cancel.Token,
            });
            var manager = new CheckpointManager(directory);
            manager.Save(ModelCheckpoint.Capture(first, new TrainingPosition(stopEpoch, stopBatch, seed)));

            var resumed = NewModel();
            TrainingPosition position = ModelCheckpoint.Restore(resumed, manager.RestoreLatest()!);
            Assert.That(position, Is.EqualTo(new TrainingPosition(stopEpoch, stopBatch, seed)));
            resumed.Fit(new SeededBatches(images, labels, 20, position.ShuffleSeed), 3,
                new FitOptions { InitialEpoch = position.Epoch, InitialBatch = position.Batch });
            Assert.That(Bits(resumed), Is.EqualTo(Bits(straight)));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public void AnotherModelIsRefusedWithEveryDifferenceListed()
    {
        var model = NewModel();
        var contents = ModelCheckpoint.Capture(model, new TrainingPosition(1, 0, 1));
        var other = new Sequential(new Conv2D(16, 3, padding: Padding.Same), new Flatten(), new Dense(10));
        other.Build(ReferenceModels.MnistInput, new ModelOptions(BatchSize: 4));
        other.Compile(new Adam());
        var error = Assert.Throws<CheckpointMismatchException>(() => ModelCheckpoint.Restore(other, contents));
        Assert.That(error!.Message, Does.Contain("conv2d/kernel").And.Contain("[3, 3, 1, 16]").And.Contain("[3, 3, 1, 32]"));
        Assert.That(error.Message, Does.Contain("architecture"));
    }
}
