using Engine.Data;
using Engine.Layers;
using Engine.Optimizers;

namespace Engine.Tests;

public class SequentialTests
{
    [TestCase(1)]
    [TestCase(2)]
    public void ZeroGradClearsEveryGradientInEverySlice(int threads)
    {
        var model = ReferenceModels.MnistCnn();
        model.Build(ReferenceModels.MnistInput, new ModelOptions(BatchSize: 4, Seed: 1, Threads: threads));
        foreach (Parameter parameter in model.Parameters)
        {
            parameter.Gradient.Span.Fill(1f); // dense/kernel (524,288 values) spans many slices
        }
        model.ZeroGrad();
        foreach (Parameter parameter in model.Parameters)
        {
            int nonzero = parameter.Gradient.Span.IndexOfAnyExcept(0f);
            Assert.That(nonzero, Is.EqualTo(-1), $"{parameter.Name}: gradient value {nonzero} not cleared");
        }
    }

    [Test]
    public void SummaryShowsTheReferenceModelsLayersAndParameterCount()
    {
        var model = ReferenceModels.MnistCnn();
        model.Build(ReferenceModels.MnistInput);
        string summary = model.Summary();
        Assert.That(summary, Does.Contain("Total params: 619,786"));
        Assert.That(summary, Does.Contain("conv2d_2 (Conv2D)").And.Contain("(None, 4, 4, 128)").And.Contain("524,544"));
        Assert.That(summary, Does.Contain("max_pooling2d_1 (MaxPooling2D)").And.Contain("dropout (Dropout)").And.Contain("dense_1 (Dense)"));
        Assert.That(model.ParameterCount, Is.EqualTo(619_786));
    }

    [Test]
    public void BuildErrorNamesTheLayerIndexTypeAndShapes()
    {
        var model = new Sequential(new Conv2D(4, 3), new Dense(10));
        var error = Assert.Throws<ArgumentException>(() => model.Build(new Shape(8, 8, 1)));
        Assert.That(error!.Message, Does.Contain("Layer 1").And.Contain("Dense").And.Contain("[100, 6, 6, 4]").And.Contain("rank 2"));
    }

    [Test]
    public void UseBeforeBuildAndBadShapesAreRefusedWithBothShapes()
    {
        var model = ReferenceModels.MnistCnn();
        var notBuilt = Assert.Throws<InvalidOperationException>(() => model.Predict(new Tensor(1, 28, 28, 1)));
        Assert.That(notBuilt!.Message, Does.Contain("Build"));

        model.Build(ReferenceModels.MnistInput, new ModelOptions(BatchSize: 4, Threads: 1));
        model.Compile(new Adam());
        var wrongImage = Assert.Throws<ArgumentException>(() => model.Predict(new Tensor(2, 28, 27, 1)));
        Assert.That(wrongImage!.Message, Does.Contain("[N, 28, 28, 1]").And.Contain("[2, 28, 27, 1]"));
        var tooLarge = Assert.Throws<ArgumentException>(() => model.TrainStep(new Tensor(5, 28, 28, 1), new Tensor(5, 10)));
        Assert.That(tooLarge!.Message, Does.Contain("at most 4").And.Contain("5"));
        var wrongLabels = Assert.Throws<ArgumentException>(() => model.TrainStep(new Tensor(2, 28, 28, 1), new Tensor(2, 9)));
        Assert.That(wrongLabels!.Message, Does.Contain("[2, 10]").And.Contain("[2, 9]"));
    }

    [Test]
    public void PredictAndEvaluateHandleMoreImagesThanTheBuiltBatch()
    {
        var (images, labels) = RandomBatch(10, seed: 3);
        var model = ReferenceModels.MnistCnn();
        model.Build(ReferenceModels.MnistInput, new ModelOptions(BatchSize: 4, Seed: 5, Threads: 1));
        Tensor logits = model.Predict(images);
        Assert.That(logits.Shape, Is.EqualTo(new Shape(10, 10)));
        Tensor single = model.Forward(images.SliceBatch(9, 1), training: false);
        Assert.That(logits.SliceBatch(9, 1).ReadOnlySpan.ToArray(), Is.EqualTo(single.ReadOnlySpan.ToArray()));
        Evaluation evaluation = model.Evaluate(images, labels);
        Assert.That(evaluation.Count, Is.EqualTo(10));
        Assert.That(evaluation.Loss, Is.GreaterThan(0).And.LessThan(10));
    }

    /// <summary>The console evaluates the byte-backed test set batch by batch; the figures must be those of the float tensor.</summary>
    [TestCase(100, 100)]
    [TestCase(64, 64)]
    [TestCase(64, 150)]
    public void EvaluateAndPredictOverBatchesOfTheTestSetEqualThemOverItsTensor(int modelBatch, int sourceBatch)
    {
        MnistDataset test = MnistDataset.Load(TestPaths.MnistDirectory, MnistSplit.Test, limit: 1000);
        var model = ReferenceModels.MnistCnn();
        model.Build(ReferenceModels.MnistInput, new ModelOptions(BatchSize: modelBatch, Seed: 7, Threads: 2));
        ShuffledBatches batches = test.Batches(sourceBatch, shuffle: null);

        Evaluation overTensor = model.Evaluate(test.Images(), test.OneHotLabels());
        Evaluation overBatches = model.Evaluate(batches);
        Tensor logitsOverTensor = model.Predict(test.Images());
        Tensor logitsOverBatches = model.Predict(batches);

        Assert.That(overBatches, Is.EqualTo(overTensor));
        Assert.That(overBatches.Count, Is.EqualTo(1000));
        Assert.That(logitsOverBatches.Shape, Is.EqualTo(new Shape(1000, 10)));
        Assert.That(logitsOverBatches.ReadOnlySpan.SequenceEqual(logitsOverTensor.ReadOnlySpan), Is.True);
    }

    [Test]
    public void TheSameSeedGivesTheSameWeightsAndAnotherSeedDoesNot()
    {
        float[] Weights(int seed)
        {
            var model = ReferenceModels.MnistCnn();
            model.Build(ReferenceModels.MnistInput, new ModelOptions(Seed: seed, Threads: 1));
            return model.Parameters.SelectMany(p => p.Value.ReadOnlySpan.ToArray()).ToArray();
        }
        float[] first = Weights(1), again = Weights(1), other = Weights(2);
        Assert.That(again, Is.EqualTo(first));
        Assert.That(other, Is.Not.EqualTo(first));
    }

    [Test]
    public void TwentyStepsGiveBitIdenticalWeightsWithOneTwoAndFourThreads()
    {
        var (images, labels) = RandomBatch(100, seed: 8);
        uint[] Train(int threads)
        {
            var model = ReferenceModels.MnistCnn();
            model.Build(ReferenceModels.MnistInput, new ModelOptions(BatchSize: 100, Seed: 21, Threads: threads));
            model.Compile(new Adam());
            for (int step = 0; step < 20; step++)
            {
                // The last step uses a partial batch, as the end of an epoch does.
                int count = step == 19 ? 37 : 100;
                model.TrainStep(images.SliceBatch(0, count), labels.SliceBatch(0, count));
            }
            return model.Parameters.SelectMany(p => p.Value.ReadOnlySpan.ToArray()).Select(BitConverter.SingleToUInt32Bits).ToArray();
        }
        uint[] one = Train(1);
        Assert.That(Train(2), Is.EqualTo(one), "2 threads");
        Assert.That(Train(4), Is.EqualTo(one), "4 threads");
    }

    [Test]
    public void ATrainingStepAllocatesNothingAfterWarmUp()
    {
        var (images, labels) = RandomBatch(50, seed: 12);
        var model = ReferenceModels.MnistCnn();
        // One thread, so every allocation of a step would be on this thread (the test host's own threads allocate meanwhile).
        model.Build(ReferenceModels.MnistInput, new ModelOptions(BatchSize: 50, Seed: 3, Threads: 1));
        model.Compile(new Adam());
        for (int step = 0; step < 3; step++)
        {
            model.TrainStep(images, labels);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int step = 0; step < 5; step++)
        {
            model.TrainStep(images, labels);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(allocated, Is.EqualTo(0), "bytes allocated by 5 training steps");
    }

    [TestCase(40, 1)]
    [TestCase(40, 2)]
    [TestCase(27, 2)] // a partial batch
    [TestCase(100, 2)] // chunks of 12-13 examples: conv3 routes a whole chunk through its pool, conv2 steps of 2
    public void ConvAndPoolRunTogetherGiveTheSameBitsAsLayerByLayer(int count, int threads)
    {
        // The model runs each Conv2D and the MaxPool2D after it chunk by chunk in one parallel
        // region; calling the layers one by one must give the same logits, gradients and pooled outputs.
        var (images, labels) = RandomBatch(count, seed: 21);
        Sequential Trained()
        {
            var model = ReferenceModels.MnistCnn();
            model.Build(ReferenceModels.MnistInput, new ModelOptions(BatchSize: Math.Max(count, 40), Seed: 5, Threads: threads));
            model.Compile(new Adam());
            model.TrainStep(images, labels); // ReLU masks and pool winners of trained, not just initial, weights
            return model;
        }
        // Two identical models, so that both draw the same dropout masks.
        Sequential together = Trained(), model = Trained();
        Assert.That(together.ConvPoolPairs, Is.EqualTo(3), "the reference model's three conv + pool pairs run together");
        together.ComputeGradients(images, labels);
        float[][] fused = together.Parameters.Select(p => p.Gradient.ReadOnlySpan.ToArray()).ToArray();
        float[] fusedLogits = together.Forward(images, training: false).ReadOnlySpan.ToArray();

        model.ZeroGrad();
        Tensor activation = images;
        foreach (ILayer layer in model.Layers)
        {
            activation = layer.Forward(activation, training: true);
        }
        var loss = new Engine.Losses.SoftmaxCrossEntropy(Math.Max(count, 40), 10);
        loss.Forward(activation, labels);
        Tensor gradient = loss.Backward();
        for (int index = model.Layers.Count - 1; index >= 0; index--)
        {
            gradient = model.Layers[index].Backward(gradient);
        }
        for (int index = 0; index < fused.Length; index++)
        {
            Assert.That(model.Parameters[index].Gradient.ReadOnlySpan.ToArray().Select(BitConverter.SingleToInt32Bits),
                Is.EqualTo(fused[index].Select(BitConverter.SingleToInt32Bits)), model.Parameters[index].Name);
        }
        Assert.That(fused.Sum(g => g.Count(v => v != 0f)), Is.GreaterThan(100_000), "gradients that are not all zero");

        activation = images;
        foreach (ILayer layer in model.Layers)
        {
            activation = layer.Forward(activation, training: false);
        }
        Assert.That(activation.ReadOnlySpan.ToArray(), Is.EqualTo(fusedLogits), "logits");
    }

    [Test]
    public void AConvsOwnBackwardAfterTheModelsForwardSaysWhyItCannot()
    {
        // The model's forward keeps no output for a conv followed by a pool (the pool masks the
        // gradient itself); calling that conv's Backward alone must fail with a reason, not use stale values.
        var (images, _) = RandomBatch(10, seed: 4);
        var model = ReferenceModels.MnistCnn();
        model.Build(ReferenceModels.MnistInput, new ModelOptions(BatchSize: 10, Seed: 2, Threads: 1));
        model.Forward(images, training: true);
        var conv = model.Layers[2];
        var error = Assert.Throws<InvalidOperationException>(() => conv.Backward(new Tensor(conv.OutputShape)));
        Assert.That(error!.Message, Does.Contain("ran through the pool"));
        // An inference pass records no pool winners: the pool's Backward says so.
        model.Forward(images, training: false);
        var pool = model.Layers[1];
        error = Assert.Throws<InvalidOperationException>(() => pool.Backward(new Tensor(pool.OutputShape)));
        Assert.That(error!.Message, Does.Contain("records no pool winners"));
        // A forward of the layer itself makes its Backward usable again.
        Tensor input = model.Layers[1].Forward(model.Layers[0].Forward(images, training: true), training: true);
        conv.Forward(input, training: true);
        Assert.That(conv.Backward(new Tensor(conv.OutputShape)).Shape, Is.EqualTo(input.Shape));
    }

    internal static (Tensor Images, Tensor Labels) RandomBatch(int count, int seed)
    {
        var random = new RandomSource((ulong)seed);
        var images = new Tensor(count, 28, 28, 1);
        for (int i = 0; i < images.Length; i++)
        {
            images.Span[i] = random.NextSingle();
        }
        var labels = new Tensor(count, 10);
        for (int n = 0; n < count; n++)
        {
            labels[n, random.NextInt(10)] = 1f;
        }
        return (images, labels);
    }
}
