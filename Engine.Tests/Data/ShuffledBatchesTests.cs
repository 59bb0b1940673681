using Engine.Data;

namespace Engine.Tests.Data;

public sealed class ShuffledBatchesTests
{
    private const int Classes = 10;

    /// <summary>N examples [N, 2, 3, 1] whose every pixel encodes the example's index (index + pixel / 100), labeled index mod 7.</summary>
    private static (Tensor Images, int[] Labels) Examples(int count)
    {
        var images = new Tensor(count, 2, 3, 1);
        Span<float> values = images.Span;
        for (int example = 0; example < count; example++)
        {
            for (int pixel = 0; pixel < 6; pixel++)
            {
                values[example * 6 + pixel] = example + pixel / 100f;
            }
        }
        int[] labels = Enumerable.Range(0, count).Select(example => example % 7).ToArray();
        return (images, labels);
    }

    /// <summary>The examples of one epoch in the order the batches deliver them, checking each batch's pixels and one-hot labels.</summary>
    private static List<int> Visit(ShuffledBatches batches, int epoch, int[] labels, List<int>? batchSizes = null)
    {
        var visited = new List<int>();
        foreach (Batch batch in batches.GetEpoch(epoch))
        {
            int rows = batch.Images.Shape[0];
            batchSizes?.Add(rows);
            Assert.That(batch.Labels.Shape, Is.EqualTo(new Shape(rows, Classes)));
            for (int row = 0; row < rows; row++)
            {
                int example = (int)batch.Images[row, 0, 0, 0];
                for (int pixel = 0; pixel < 6; pixel++)
                {
                    Assert.That(batch.Images[row, pixel / 3, pixel % 3, 0], Is.EqualTo(example + pixel / 100f), "pixel of example " + example);
                }
                for (int column = 0; column < Classes; column++)
                {
                    Assert.That(batch.Labels[row, column], Is.EqualTo(column == labels[example] ? 1f : 0f), $"one-hot of example {example}, column {column}");
                }
                visited.Add(example);
            }
        }
        return visited;
    }

    [Test]
    public void EveryEpoch_VisitsEveryExampleExactlyOnce_WithCorrectOneHotLabels()
    {
        (Tensor images, int[] labels) = Examples(103);
        var batches = new ShuffledBatches(images, labels, Classes, batchSize: 16, new ShuffleOptions(BufferSize: 50, Seed: 7));

        for (int epoch = 0; epoch < 3; epoch++)
        {
            List<int> visited = Visit(batches, epoch, labels);
            Assert.That(visited, Is.EquivalentTo(Enumerable.Range(0, 103)), $"epoch {epoch}");
        }
    }

    [Test]
    public void SameSeed_GivesTheSameOrder_InAnotherInstance()
    {
        (Tensor images, int[] labels) = Examples(64);
        var first = new ShuffledBatches(images, labels, Classes, 10, new ShuffleOptions(64, Seed: 42));
        var second = new ShuffledBatches(images, labels, Classes, 10, new ShuffleOptions(64, Seed: 42));

        Assert.That(Visit(second, 0, labels), Is.EqualTo(Visit(first, 0, labels)));
        Assert.That(Visit(second, 5, labels), Is.EqualTo(Visit(first, 5, labels)));
    }

    [Test]
    public void DifferentSeeds_GiveDifferentOrders()
    {
        (Tensor images, int[] labels) = Examples(64);
        var first = new ShuffledBatches(images, labels, Classes, 10, new ShuffleOptions(64, Seed: 1));
        var second = new ShuffledBatches(images, labels, Classes, 10, new ShuffleOptions(64, Seed: 2));

        Assert.That(Visit(second, 0, labels), Is.Not.EqualTo(Visit(first, 0, labels)));
    }

    [Test]
    public void EachEpoch_HasAFreshOrder()
    {
        (Tensor images, int[] labels) = Examples(64);
        var batches = new ShuffledBatches(images, labels, Classes, 10, new ShuffleOptions(64, Seed: 3));

        List<int> epoch0 = Visit(batches, 0, labels);
        List<int> epoch1 = Visit(batches, 1, labels);
        List<int> epoch2 = Visit(batches, 2, labels);

        Assert.That(epoch1, Is.Not.EqualTo(epoch0));
        Assert.That(epoch2, Is.Not.EqualTo(epoch1));
        Assert.That(epoch0, Is.Not.EqualTo(Enumerable.Range(0, 64)));
    }

    [Test]
    public void EpochOrder_DoesNotDependOnEarlierEpochsBeingIterated()
    {
        (Tensor images, int[] labels) = Examples(50);
        var uninterrupted = new ShuffledBatches(images, labels, Classes, 8, new ShuffleOptions(20, Seed: 9));
        var resumed = new ShuffledBatches(images, labels, Classes, 8, new ShuffleOptions(20, Seed: 9));
        for (int epoch = 0; epoch < 3; epoch++)
        {
            Visit(uninterrupted, epoch, labels);
        }

        Assert.That(Visit(resumed, 3, labels), Is.EqualTo(Visit(uninterrupted, 3, labels)));
        Assert.That(Visit(resumed, 1, labels), Is.EqualTo(Visit(uninterrupted, 1, labels)));
    }

    [Test]
    public void PartialLastBatch_IsKeptByDefault()
    {
        (Tensor images, int[] labels) = Examples(103);
        var batches = new ShuffledBatches(images, labels, Classes, batchSize: 32, new ShuffleOptions(103, Seed: 1));
        var sizes = new List<int>();

        List<int> visited = Visit(batches, 0, labels, sizes);

        Assert.That(sizes, Is.EqualTo(new[] { 32, 32, 32, 7 }));
        Assert.That(batches.BatchesPerEpoch, Is.EqualTo(4));
        Assert.That(batches.ExampleCount, Is.EqualTo(103));
        Assert.That(visited, Is.EquivalentTo(Enumerable.Range(0, 103)));
    }

    [Test]
    public void PartialLastBatch_IsDroppedWhenAsked()
    {
        (Tensor images, int[] labels) = Examples(103);
        var batches = new ShuffledBatches(images, labels, Classes, batchSize: 32, new ShuffleOptions(103, Seed: 1), dropRemainder: true);
        var sizes = new List<int>();

        List<int> visited = Visit(batches, 0, labels, sizes);

        Assert.That(sizes, Is.EqualTo(new[] { 32, 32, 32 }));
        Assert.That(batches.BatchesPerEpoch, Is.EqualTo(3));
        Assert.That(batches.ExampleCount, Is.EqualTo(96));
        Assert.That(visited.Distinct().Count(), Is.EqualTo(96));
        int[] order = new int[103];
        batches.GetOrder(0, order);
        Assert.That(visited, Is.EqualTo(order[..96]), "the dropped examples are the last 7 of the shuffled order");
    }

    [Test]
    public void BatchLargerThanTheData_GivesOneBatchOfEverything()
    {
        (Tensor images, int[] labels) = Examples(5);
        var sizes = new List<int>();

        Visit(new ShuffledBatches(images, labels, Classes, batchSize: 8, new ShuffleOptions(5, Seed: 1)), 0, labels, sizes);

        Assert.That(sizes, Is.EqualTo(new[] { 5 }));
        Assert.That(new ShuffledBatches(images, labels, Classes, 8, shuffle: null, dropRemainder: true).BatchesPerEpoch, Is.Zero);
    }

    [Test]
    public void Sequential_KeepsTheStoredOrderEveryEpoch()
    {
        (Tensor images, int[] labels) = Examples(23);
        var batches = ShuffledBatches.Sequential(images, labels, Classes, batchSize: 5);
        var sizes = new List<int>();

        Assert.That(Visit(batches, 0, labels, sizes), Is.EqualTo(Enumerable.Range(0, 23)));
        Assert.That(Visit(batches, 4, labels), Is.EqualTo(Enumerable.Range(0, 23)));
        Assert.That(sizes, Is.EqualTo(new[] { 5, 5, 5, 5, 3 }));
    }

    [Test]
    public void BufferSizeOne_KeepsTheInputOrder()
    {
        (Tensor images, int[] labels) = Examples(40);
        var batches = new ShuffledBatches(images, labels, Classes, 6, new ShuffleOptions(BufferSize: 1, Seed: 11));

        Assert.That(Visit(batches, 0, labels), Is.EqualTo(Enumerable.Range(0, 40)));
        Assert.That(Visit(batches, 1, labels), Is.EqualTo(Enumerable.Range(0, 40)));
    }

    [TestCase(2)]
    [TestCase(5)]
    public void SmallBuffer_OnlyEmitsExamplesThatHaveEnteredTheBuffer(int bufferSize)
    {
        // With a buffer of k, output i is drawn from the first i + k inputs: no example moves more than k - 1 places earlier.
        const int count = 200;
        (Tensor images, int[] labels) = Examples(count);
        var batches = new ShuffledBatches(images, labels, Classes, 16, new ShuffleOptions(bufferSize, Seed: 5));
        int[] order = new int[count];

        for (int epoch = 0; epoch < 5; epoch++)
        {
            batches.GetOrder(epoch, order);
            Assert.That(order, Is.EquivalentTo(Enumerable.Range(0, count)));
            Assert.That(order, Is.Not.EqualTo(Enumerable.Range(0, count)));
            for (int position = 0; position < count; position++)
            {
                Assert.That(order[position], Is.LessThan(position + bufferSize), $"epoch {epoch}, position {position}");
            }
        }
    }

    [Test]
    public void FullBuffer_GivesEveryPermutationWithEqualFrequency()
    {
        // 4 examples, 24 permutations, 24,000 epochs: each permutation ~1000 times (binomial sd ~31).
        (Tensor images, int[] labels) = Examples(4);
        var batches = new ShuffledBatches(images, labels, Classes, 4, new ShuffleOptions(BufferSize: 100, Seed: 123));
        var counts = new Dictionary<int, int>();
        int[] order = new int[4];

        for (int epoch = 0; epoch < 24000; epoch++)
        {
            batches.GetOrder(epoch, order);
            int key = order[0] * 1000 + order[1] * 100 + order[2] * 10 + order[3];
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }

        Assert.That(counts, Has.Count.EqualTo(24));
        Assert.That(counts.Values, Has.All.InRange(850, 1150));
    }

    [Test]
    public void BuffersSmallerThanTheData_AreNotAFullShuffle()
    {
        // With a buffer of 2 over 4 examples, example 3 can never come first.
        (Tensor images, int[] labels) = Examples(4);
        var batches = new ShuffledBatches(images, labels, Classes, 4, new ShuffleOptions(BufferSize: 2, Seed: 123));
        int[] order = new int[4];
        var firsts = new HashSet<int>();

        for (int epoch = 0; epoch < 200; epoch++)
        {
            batches.GetOrder(epoch, order);
            firsts.Add(order[0]);
        }

        Assert.That(firsts, Is.EquivalentTo(new[] { 0, 1 }));
    }

    [Test]
    public void IteratingBatches_AllocatesNothingPerBatch()
    {
        (Tensor images, int[] labels) = Examples(6400);
        var batches = new ShuffledBatches(images, labels, Classes, 32, new ShuffleOptions(1000, Seed: 1));
        for (int warmUp = 0; warmUp < 3; warmUp++)
        {
            AllocatedWhileTaking(batches, warmUp, batches.BatchesPerEpoch);
        }

        long tenBatches = AllocatedWhileTaking(batches, 5, 10);
        long fiftyBatches = AllocatedWhileTaking(batches, 6, 50);
        long allBatches = AllocatedWhileTaking(batches, 7, batches.BatchesPerEpoch);

        Assert.That(fiftyBatches, Is.EqualTo(tenBatches), "bytes allocated by 50 batches vs 10 batches of an epoch");
        Assert.That(allBatches, Is.EqualTo(tenBatches), "bytes allocated by 200 batches vs 10 batches of an epoch");
    }

    [Test]
    public void IteratingBytePixelBatches_AllocatesNothingPerBatch()
    {
        (byte[] pixels, int[] labels) = PixelExamples(6400);
        var batches = new ShuffledBatches(pixels, new Shape(2, 3, 1), labels, Classes, 32, new ShuffleOptions(1000, Seed: 1));
        for (int warmUp = 0; warmUp < 3; warmUp++)
        {
            AllocatedWhileTaking(batches, warmUp, batches.BatchesPerEpoch);
        }

        long tenBatches = AllocatedWhileTaking(batches, 5, 10);
        long allBatches = AllocatedWhileTaking(batches, 7, batches.BatchesPerEpoch);

        Assert.That(allBatches, Is.EqualTo(tenBatches), "bytes allocated by 200 batches vs 10 batches of an epoch");
    }

    [TestCase(16, 50, false)]
    [TestCase(16, 50, true)]
    [TestCase(7, 1, false)]
    [TestCase(300, 1000, false)]
    public void BytePixelBatches_EqualBatchesOfTheTensorOfPixelOver255(int batchSize, int bufferSize, bool dropRemainder)
    {
        // Every byte value occurs; the tensor is scaled independently of the batcher, by division.
        (byte[] pixels, int[] labels) = PixelExamples(259);
        var images = new Tensor(259, 2, 3, 1);
        for (int i = 0; i < pixels.Length; i++)
        {
            images.Span[i] = pixels[i] / 255f;
        }
        var options = new ShuffleOptions(bufferSize, Seed: 42);
        var fromBytes = new ShuffledBatches(pixels, new Shape(2, 3, 1), labels, Classes, batchSize, options, dropRemainder);
        var fromFloats = new ShuffledBatches(images, labels, Classes, batchSize, options, dropRemainder);
        Assert.That(fromBytes.BatchesPerEpoch, Is.EqualTo(fromFloats.BatchesPerEpoch));
        Assert.That(fromBytes.ExampleCount, Is.EqualTo(fromFloats.ExampleCount));

        for (int epoch = 0; epoch < 3; epoch++)
        {
            var floatBatches = fromFloats.GetEpoch(epoch).Select(batch => (batch.Images.ReadOnlySpan.ToArray(), batch.Labels.ReadOnlySpan.ToArray(), batch.Images.Shape)).ToList();
            int index = 0;
            foreach (Batch batch in fromBytes.GetEpoch(epoch))
            {
                (float[] expectedImages, float[] expectedLabels, Shape expectedShape) = floatBatches[index++];
                Assert.That(batch.Images.Shape, Is.EqualTo(expectedShape), $"epoch {epoch}, batch {index}");
                Assert.That(batch.Images.ReadOnlySpan.SequenceEqual(expectedImages), Is.True, $"images of epoch {epoch}, batch {index}");
                Assert.That(batch.Labels.ReadOnlySpan.SequenceEqual(expectedLabels), Is.True, $"labels of epoch {epoch}, batch {index}");
            }
            Assert.That(index, Is.EqualTo(floatBatches.Count));
        }
    }

    [Test]
    public void BytePixelConstructor_RejectsAPixelCountThatDoesNotFitTheLabels()
    {
        var exception = Assert.Throws<ArgumentException>(
            () => new ShuffledBatches(new byte[59], new Shape(2, 3, 1), new int[10], Classes, 4, shuffle: null))!;

        Assert.That(exception.Message, Does.Contain("[2, 3, 1]").And.Contain("10 labels need 60 bytes").And.Contain("received 59"));
    }

    [Test]
    public void Constructor_RejectsLabelCountThatDiffersFromTheImages()
    {
        (Tensor images, _) = Examples(10);

        var exception = Assert.Throws<ArgumentException>(() => new ShuffledBatches(images, new int[9], Classes, 4, shuffle: null))!;

        Assert.That(exception.Message, Does.Contain("10 examples").And.Contain("9 labels"));
    }

    [Test]
    public void Constructor_RejectsLabelOutsideTheClasses()
    {
        (Tensor images, int[] labels) = Examples(10);
        labels[4] = 12;

        var exception = Assert.Throws<ArgumentOutOfRangeException>(() => new ShuffledBatches(images, labels, Classes, 4, shuffle: null))!;

        Assert.That(exception.Message, Does.Contain("Label 4 is 12").And.Contain("[0, 10)"));
    }

    [TestCase(0, 10)]
    [TestCase(4, 0)]
    public void Constructor_RejectsNonPositiveBatchOrBufferSize(int batchSize, int bufferSize)
    {
        (Tensor images, int[] labels) = Examples(10);

        var exception = Assert.Throws<ArgumentOutOfRangeException>(
            () => new ShuffledBatches(images, labels, Classes, batchSize, new ShuffleOptions(bufferSize, Seed: 1)))!;

        Assert.That(exception.Message, Does.Contain("at least 1").And.Contain("received 0"));
    }

    [Test]
    public void GetEpoch_RejectsNegativeEpochImmediately()
    {
        (Tensor images, int[] labels) = Examples(10);
        var batches = ShuffledBatches.Sequential(images, labels, Classes, 4);

        var exception = Assert.Throws<ArgumentOutOfRangeException>(() => batches.GetEpoch(-1))!;

        Assert.That(exception.Message, Does.Contain("received -1"));
    }

    [Test]
    public void TrainsASequentialModel()
    {
        // The batcher plugs into Sequential.Fit as an IBatchSource.
        (Tensor images, int[] labels) = Examples(40);
        var batches = new ShuffledBatches(images, labels, Classes, 8, new ShuffleOptions(40, Seed: 1));
        var model = new Sequential(new Engine.Layers.Flatten(), new Engine.Layers.Dense(Classes));
        model.Build(new Shape(2, 3, 1), new ModelOptions(BatchSize: 8, Seed: 1));
        model.Compile(new Engine.Optimizers.Adam());

        History history = model.Fit(batches, epochs: 2);

        Assert.That(history.Epochs, Has.Count.EqualTo(2));
        Assert.That(history.Epochs.All(epoch => double.IsFinite(epoch.TrainLoss)), Is.True);
    }

    /// <summary>N uint8 examples [N, 2, 3, 1] whose pixels run through every byte value, labeled index mod 7.</summary>
    private static (byte[] Pixels, int[] Labels) PixelExamples(int count)
    {
        byte[] pixels = Enumerable.Range(0, count * 6).Select(i => (byte)(i * 7 % 256)).ToArray();
        int[] labels = Enumerable.Range(0, count).Select(example => example % 7).ToArray();
        return (pixels, labels);
    }

    private static long AllocatedWhileTaking(ShuffledBatches batches, int epoch, int count)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        int taken = 0;
        foreach (Batch batch in batches.GetEpoch(epoch))
        {
            if (++taken == count)
            {
                break;
            }
        }
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}
