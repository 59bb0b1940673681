using System.IO.Compression;
using System.Security.Cryptography;
using Engine.Data;

namespace Engine.Tests.Data;

public sealed class MnistDatasetTests
{
    // Published facts: README.md of the shared data (MD5 of the raw files) and the well-known first training labels.
    private static readonly Dictionary<string, string> RawMd5 = new()
    {
        ["train-images-idx3-ubyte"] = "6bbc9ace898e44ae57da46a324031adb",
        ["train-labels-idx1-ubyte"] = "a25bea736e30d166cdddb491f175f624",
        ["t10k-images-idx3-ubyte"] = "2646ac647ad5339dbf082846283269ea",
        ["t10k-labels-idx1-ubyte"] = "27ae3e4e09519cfbb04c329615203637",
    };

    private static readonly int[] FirstTrainingLabels = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4];

    private static readonly Lazy<MnistDataset> Train = new(() => MnistDataset.Load(TestPaths.MnistDirectory, MnistSplit.Train));
    private static readonly Lazy<MnistDataset> Test = new(() => MnistDataset.Load(TestPaths.MnistDirectory, MnistSplit.Test));

    private string _directory = "";

    [SetUp]
    public void CreateDirectory()
    {
        _directory = Path.Combine(Path.GetTempPath(), "mnist-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
    }

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    [Test]
    public void Load_Train_Has60000ImagesAndTheKnownFirstLabels()
    {
        MnistDataset train = Train.Value;

        Assert.That(train.Count, Is.EqualTo(60000));
        Assert.That(train.Pixels.Length, Is.EqualTo(60000 * 28 * 28));
        Assert.That(train.ToString(), Is.EqualTo("MNIST Train: 60000 images [60000, 28, 28, 1]"));
        Assert.That(train.Labels[..10].ToArray(), Is.EqualTo(FirstTrainingLabels));
        Assert.That(train.Split, Is.EqualTo(MnistSplit.Train));
    }

    [Test]
    public void Load_Test_Has10000Images()
    {
        MnistDataset test = Test.Value;

        Assert.That(test.Count, Is.EqualTo(10000));
        Assert.That(test.Pixels.Length, Is.EqualTo(10000 * 28 * 28));
    }

    [TestCase("train-images-idx3-ubyte")]
    [TestCase("train-labels-idx1-ubyte")]
    [TestCase("t10k-images-idx3-ubyte")]
    [TestCase("t10k-labels-idx1-ubyte")]
    public void SharedFiles_DecompressToTheCanonicalRawBytes(string name)
    {
        byte[] raw = Decompress(Path.Combine(TestPaths.MnistDirectory, name + ".gz"));

        Assert.That(Convert.ToHexStringLower(MD5.HashData(raw)), Is.EqualTo(RawMd5[name]));
    }

    [TestCase("t10k-images-idx3-ubyte")]
    [TestCase("train-labels-idx1-ubyte")]
    public void ReaderThenWriter_ReproducesTheCanonicalRawBytes(string name)
    {
        IdxArray array = IdxReader.Read(Path.Combine(TestPaths.MnistDirectory, name + ".gz"));
        var plain = new MemoryStream();
        IdxWriter.Write(array, plain);

        Assert.That(Convert.ToHexStringLower(MD5.HashData(plain.ToArray())), Is.EqualTo(RawMd5[name]));
    }

    [Test]
    public void Load_KeepsThePixelsAsStored()
    {
        byte[] raw = Decompress(Path.Combine(TestPaths.MnistDirectory, "t10k-images-idx3-ubyte.gz"));

        Assert.That(Test.Value.Pixels.SequenceEqual(raw.AsSpan(16)), Is.True);
    }

    [Test]
    public void Images_ScaleEveryPixelByOneOver255()
    {
        // Independent decoding: the raw bytes after the 16-byte header, divided by 255f.
        byte[] raw = Decompress(Path.Combine(TestPaths.MnistDirectory, "t10k-images-idx3-ubyte.gz"));
        Tensor images = Test.Value.Images();
        ReadOnlySpan<float> pixels = images.ReadOnlySpan;

        Assert.That(images.Shape, Is.EqualTo(new Shape(10000, 28, 28, 1)));

        Assert.That(pixels.Length, Is.EqualTo(raw.Length - 16));
        int mismatches = 0;
        for (int i = 0; i < pixels.Length; i++)
        {
            mismatches += pixels[i] == raw[16 + i] / 255f ? 0 : 1;
        }
        Assert.That(mismatches, Is.Zero);
        Assert.That(TensorMax(pixels), Is.EqualTo(1f));
    }

    [Test]
    public void Load_TestLabelsMatchTheRawFile()
    {
        byte[] raw = Decompress(Path.Combine(TestPaths.MnistDirectory, "t10k-labels-idx1-ubyte.gz"));

        Assert.That(Test.Value.Labels.ToArray(), Is.EqualTo(raw[8..].Select(b => (int)b).ToArray()));
    }

    [Test]
    public void Load_AcceptsUncompressedFileNames()
    {
        foreach (string name in new[] { "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" })
        {
            File.WriteAllBytes(Path.Combine(_directory, name), Decompress(Path.Combine(TestPaths.MnistDirectory, name + ".gz")));
        }

        MnistDataset test = MnistDataset.Load(_directory, MnistSplit.Test);

        Assert.That(test.Count, Is.EqualTo(10000));
        Assert.That(test.Pixels.SequenceEqual(Test.Value.Pixels), Is.True);
        Assert.That(test.Labels.SequenceEqual(Test.Value.Labels), Is.True);
    }

    [Test]
    public void Load_WithLimit_KeepsTheFirstExamples()
    {
        MnistDataset first = MnistDataset.Load(TestPaths.MnistDirectory, MnistSplit.Train, limit: 10);

        Assert.That(first.Count, Is.EqualTo(10));
        Assert.That(first.Pixels.Length, Is.EqualTo(10 * 28 * 28));
        Assert.That(first.Labels.ToArray(), Is.EqualTo(FirstTrainingLabels));
        Assert.That(first.Pixels.SequenceEqual(Train.Value.Pixels[..(10 * 28 * 28)]), Is.True);
        Assert.That(first.Images().ReadOnlySpan.SequenceEqual(Train.Value.Images(0, 10).ReadOnlySpan), Is.True);
    }

    [Test]
    public void Load_WithLimitAboveTheCount_KeepsAll()
    {
        Assert.That(MnistDataset.Load(TestPaths.MnistDirectory, MnistSplit.Test, limit: 20000).Count, Is.EqualTo(10000));
    }

    [Test]
    public void Load_RejectsLimitBelowOne()
    {
        var exception = Assert.Throws<ArgumentOutOfRangeException>(() => MnistDataset.Load(TestPaths.MnistDirectory, MnistSplit.Test, limit: 0))!;

        Assert.That(exception.Message, Does.Contain("at least 1").And.Contain("received 0"));
    }

    [Test]
    public void Load_RejectsDifferentImageAndLabelCounts()
    {
        IdxWriter.Write(IdxArray.Create(new byte[5 * 28 * 28], 5, 28, 28), Path.Combine(_directory, "t10k-images-idx3-ubyte"));
        IdxWriter.Write(IdxArray.Create(new byte[4], 4), Path.Combine(_directory, "t10k-labels-idx1-ubyte.gz"), IdxCompression.Gzip);

        var exception = Assert.Throws<InvalidDataException>(() => MnistDataset.Load(_directory, MnistSplit.Test))!;

        Assert.That(exception.Message, Does.Contain("5 images").And.Contain("4 labels")
            .And.Contain("t10k-images-idx3-ubyte").And.Contain("t10k-labels-idx1-ubyte.gz"));
    }

    [Test]
    public void Load_RejectsImagesThatAreNot28By28()
    {
        IdxWriter.Write(IdxArray.Create(new byte[2 * 27 * 28], 2, 27, 28), Path.Combine(_directory, "train-images-idx3-ubyte"));
        IdxWriter.Write(IdxArray.Create(new byte[2], 2), Path.Combine(_directory, "train-labels-idx1-ubyte"));

        var exception = Assert.Throws<InvalidDataException>(() => MnistDataset.Load(_directory, MnistSplit.Train))!;

        Assert.That(exception.Message, Does.Contain("[2, 27, 28]").And.Contain("[N, 28, 28]"));
    }

    [Test]
    public void Load_RejectsLabelAbove9()
    {
        IdxWriter.Write(IdxArray.Create(new byte[2 * 28 * 28], 2, 28, 28), Path.Combine(_directory, "train-images-idx3-ubyte"));
        IdxWriter.Write(IdxArray.Create(new byte[] { 3, 10 }, 2), Path.Combine(_directory, "train-labels-idx1-ubyte"));

        var exception = Assert.Throws<InvalidDataException>(() => MnistDataset.Load(_directory, MnistSplit.Train))!;

        Assert.That(exception.Message, Does.Contain("label 1 is 10").And.Contain("0-9"));
    }

    [Test]
    public void Load_MissingFile_NamesBothFormsTried()
    {
        var exception = Assert.Throws<FileNotFoundException>(() => MnistDataset.Load(_directory, MnistSplit.Test))!;

        Assert.That(exception.Message, Does.Contain(Path.Combine(_directory, "t10k-images-idx3-ubyte"))
            .And.Contain(Path.Combine(_directory, "t10k-images-idx3-ubyte.gz")));
    }

    [Test]
    public void Images_OfARange_AreThatPartOfAllImages()
    {
        Tensor all = Test.Value.Images();

        Tensor part = Test.Value.Images(9995, 5);

        Assert.That(part.Shape, Is.EqualTo(new Shape(5, 28, 28, 1)));
        Assert.That(part.ReadOnlySpan.SequenceEqual(all.SliceBatch(9995, 5).ReadOnlySpan), Is.True);
        var exception = Assert.Throws<ArgumentOutOfRangeException>(() => Test.Value.Images(9995, 6))!;
        Assert.That(exception.Message, Does.Contain("[9995, 10001)").And.Contain("10000 images"));
    }

    [Test]
    public void FromIdx_CopiesTheCallersPixels()
    {
        byte[] pixels = new byte[2 * 28 * 28];
        pixels[0] = 255;
        var dataset = MnistDataset.FromIdx(IdxArray.Create(pixels, 2, 28, 28), IdxArray.Create(new byte[] { 3, 4 }, 2), MnistSplit.Test);

        pixels[0] = 0;

        Assert.That(dataset.Pixels[0], Is.EqualTo(255));
        Assert.That(dataset.Images(0, 1)[0, 0, 0, 0], Is.EqualTo(1f));
    }

    /// <summary>
    /// The console's training batches (batch 100, shuffle buffer 100,000, seed 42) from the stored bytes equal, value for
    /// value and in the same order, those cut from the float tensor of the whole split, as the console made them before.
    /// </summary>
    [TestCase(MnistSplit.Train, 100, 0)]
    [TestCase(MnistSplit.Test, 96, 1)]
    public void Batches_EqualTheBatchesOfTheScaledImagesTensor(MnistSplit split, int batchSize, int epoch)
    {
        MnistDataset dataset = split == MnistSplit.Train ? Train.Value : Test.Value;
        var shuffle = new ShuffleOptions(BufferSize: 100_000, Seed: 42);
        ShuffledBatches fromBytes = dataset.Batches(batchSize, shuffle);
        var fromTensor = new ShuffledBatches(dataset.Images(), dataset.Labels, MnistDataset.ClassCount, batchSize, shuffle);

        using IEnumerator<Batch> expected = fromTensor.GetEpoch(epoch).GetEnumerator();
        int batches = 0, differences = 0;
        foreach (Batch batch in fromBytes.GetEpoch(epoch))
        {
            Assert.That(expected.MoveNext(), Is.True);
            Assert.That(batch.Images.Shape, Is.EqualTo(expected.Current.Images.Shape));
            differences += batch.Images.ReadOnlySpan.SequenceEqual(expected.Current.Images.ReadOnlySpan) ? 0 : 1;
            differences += batch.Labels.ReadOnlySpan.SequenceEqual(expected.Current.Labels.ReadOnlySpan) ? 0 : 1;
            batches++;
        }

        Assert.That(expected.MoveNext(), Is.False);
        Assert.That(batches, Is.EqualTo(fromTensor.BatchesPerEpoch));
        Assert.That(differences, Is.Zero, "batches whose images or labels differ");
    }

    [Test]
    public void OneHotLabels_MatchTheLabels()
    {
        MnistDataset train = Train.Value;

        Tensor oneHot = train.OneHotLabels();

        Assert.That(oneHot.Shape, Is.EqualTo(new Shape(60000, 10)));
        ReadOnlySpan<float> values = oneHot.ReadOnlySpan;
        int wrong = 0;
        for (int row = 0; row < train.Count; row++)
        {
            for (int column = 0; column < 10; column++)
            {
                wrong += values[row * 10 + column] == (column == train.Labels[row] ? 1f : 0f) ? 0 : 1;
            }
        }
        Assert.That(wrong, Is.Zero);
        Assert.That(oneHot[0, 5], Is.EqualTo(1f));
    }

    private static byte[] Decompress(string path)
    {
        using var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        var raw = new MemoryStream();
        gzip.CopyTo(raw);
        return raw.ToArray();
    }

    private static float TensorMax(ReadOnlySpan<float> values)
    {
        float max = float.MinValue;
        foreach (float value in values)
        {
            max = Math.Max(max, value);
        }
        return max;
    }
}
