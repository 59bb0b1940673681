using Engine.Data;
using Engine.Optimizers;

namespace Engine.Tests;

/// <summary>The engine learns real digits: 200 Adam steps on the first 2,000 MNIST training images.</summary>
public class TrainingTests
{
    [Test]
    public void TwoHundredAdamStepsOnTwoThousandImagesReachLowLossAndHighAccuracy()
    {
        MnistDataset train = MnistDataset.Load(TestPaths.MnistDirectory, MnistSplit.Train, limit: 2000);
        var model = ReferenceModels.MnistCnn();
        model.Build(ReferenceModels.MnistInput, new ModelOptions(BatchSize: 100, Seed: 42, Threads: 2));
        model.Compile(new Adam());
        ShuffledBatches batches = train.Batches(100, new ShuffleOptions(BufferSize: 2000, Seed: 1));
        Assert.That(batches.BatchesPerEpoch, Is.EqualTo(20));

        History history = model.Fit(batches, epochs: 10);

        Assert.That(model.Optimizer.Iterations, Is.EqualTo(200));
        Evaluation evaluation = model.Evaluate(train.Batches(100, shuffle: null));
        Assert.That(history.Epochs[^1].TrainLoss, Is.LessThan(0.3), "mean training loss of the last epoch");
        Assert.That(evaluation.Loss, Is.LessThan(0.3), "loss on the 2,000 images");
        Assert.That(evaluation.Accuracy, Is.GreaterThan(0.90), "accuracy on the 2,000 images");
        Assert.That(history.Epochs[^1].TrainLoss, Is.LessThan(history.Epochs[0].TrainLoss / 3), "the loss falls");
    }
}
