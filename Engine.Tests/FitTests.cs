using Engine.Optimizers;

namespace Engine.Tests;

public class FitTests
{
    /// <summary>A fixed list of batches whose order depends on the epoch (reversed on odd epochs).</summary>
    private sealed class FixedBatches(Tensor images, Tensor labels, int batchSize) : IBatchSource
    {
        public int ExampleCount => images.Shape[0];

        public int BatchesPerEpoch => (ExampleCount + batchSize - 1) / batchSize;

        public IEnumerable<Batch> GetEpoch(int epoch)
        {
            for (int index = 0; index < BatchesPerEpoch; index++)
            {
                int batch = epoch % 2 == 0 ? index : BatchesPerEpoch - 1 - index;
                int start = batch * batchSize, count = Math.Min(batchSize, ExampleCount - start);
                yield return new Batch(images.SliceBatch(start, count), labels.SliceBatch(start, count));
            }
        }
    }

    private static Sequential NewModel()
    {
        var model = ReferenceModels.MnistCnn();
        model.Build(ReferenceModels.MnistInput, new ModelOptions(BatchSize: 20, Seed: 4, Threads: 2));
        model.Compile(new Adam());
        return model;
    }

    private static uint[] Bits(Sequential model) =>
        model.Parameters.SelectMany(p => p.Value.ReadOnlySpan.ToArray()).Select(BitConverter.SingleToUInt32Bits).ToArray();

    [Test]
    public void ReportsEveryBatchAndEpochAndReturnsTheHistory()
    {
        var (images, labels) = SequentialTests.RandomBatch(50, seed: 1);
        var model = NewModel();
        var progress = new List<BatchProgress>();
        var ends = new List<EpochMetrics>();
        History history = model.Fit(new FixedBatches(images, labels, 20), 2, new FitOptions
        {
            Validation = (images, labels),
            OnBatch = progress.Add,
            OnEpochEnd = ends.Add,
        });
        Assert.That(history.Cancelled, Is.False);
        Assert.That(history.Epochs.Select(e => e.Epoch), Is.EqualTo(new[] { 0, 1 }));
        Assert.That(ends, Is.EqualTo(history.Epochs));
        Assert.That(progress.Select(p => p.Batch), Is.EqualTo(new[] { 1, 2, 3, 1, 2, 3 }));
        Assert.That(history.Epochs[1].Validation!.Value.Count, Is.EqualTo(50));
        Assert.That(model.Optimizer.Iterations, Is.EqualTo(6));
    }

    [Test]
    public void ResumingAtAnEpochOrMidEpochGivesTheSameWeightsAsTrainingStraight()
    {
        var (images, labels) = SequentialTests.RandomBatch(60, seed: 2);
        var source = new FixedBatches(images, labels, 20);
        var straight = NewModel();
        straight.Fit(source, 3);

        var resumed = NewModel();
        using var cancel = new CancellationTokenSource();
        History first = resumed.Fit(source, 3, new FitOptions
        {
            OnBatch = p => { if (p.Epoch == 1 && p.Batch == 2) { cancel.Cancel(); } },
            CancellationToken = cancel.Token,
        });
        Assert.That(first.Cancelled, Is.True);
        Assert.That(first.StoppedAt, Is.EqualTo((1, 2)));
        resumed.Fit(source, 3, new FitOptions { InitialEpoch = 1, InitialBatch = 2 });
        Assert.That(Bits(resumed), Is.EqualTo(Bits(straight)));
    }

    [Test]
    public void DivergenceStopsAtTheFirstNonFiniteLossAndNamesTheStep()
    {
        var (images, labels) = SequentialTests.RandomBatch(40, seed: 3);
        images.Span[5] = float.NaN;
        var model = NewModel();
        float[] before = model.Parameters.SelectMany(p => p.Value.ReadOnlySpan.ToArray()).ToArray();
        var error = Assert.Throws<TrainingDivergedException>(() => model.Fit(new FixedBatches(images, labels, 20), 1));
        Assert.That(error!.Message, Does.Contain("Epoch 1, batch 1").And.Contain("step 1").And.Contain("input images"));
        float[] after = model.Parameters.SelectMany(p => p.Value.ReadOnlySpan.ToArray()).ToArray();
        Assert.That(after, Is.EqualTo(before), "the diverged step must not be applied");
    }

    [Test]
    public void DivergenceNamesTheFirstLayerWhoseOutputIsNotFinite()
    {
        var (images, labels) = SequentialTests.RandomBatch(20, seed: 4);
        var model = NewModel();
        model.Parameters[2].Value.Span[0] = float.PositiveInfinity; // conv2d_1/kernel
        var error = Assert.Throws<TrainingDivergedException>(() => model.TrainStep(images, labels));
        Assert.That(error!.Message, Does.Contain("layer 2").And.Contain("conv2d_1"));
    }
}
