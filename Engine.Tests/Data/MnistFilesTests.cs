using Engine.Data;

namespace Engine.Tests.Data;

public sealed class MnistFilesTests
{
    [Test]
    public void Find_PrefersTheUncompressedFile_ThenGz_ElseNull()
    {
        string directory = Path.Combine(Path.GetTempPath(), "mnist-files-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            Assert.That(MnistFiles.Find(directory, "t10k-labels-idx1-ubyte"), Is.Null);
            File.WriteAllBytes(Path.Combine(directory, "t10k-labels-idx1-ubyte.gz"), []);
            Assert.That(MnistFiles.Find(directory, "t10k-labels-idx1-ubyte"), Is.EqualTo(Path.Combine(directory, "t10k-labels-idx1-ubyte.gz")));
            File.WriteAllBytes(Path.Combine(directory, "t10k-labels-idx1-ubyte"), []);
            Assert.That(MnistFiles.Find(directory, "t10k-labels-idx1-ubyte"), Is.EqualTo(Path.Combine(directory, "t10k-labels-idx1-ubyte")));
            Assert.That(MnistFiles.Missing(directory), Is.EqualTo(new[] { "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte" }));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public void Names_FollowTheSplits()
    {
        Assert.That(MnistFiles.ImagesName(MnistSplit.Train), Is.EqualTo("train-images-idx3-ubyte"));
        Assert.That(MnistFiles.LabelsName(MnistSplit.Train), Is.EqualTo("train-labels-idx1-ubyte"));
        Assert.That(MnistFiles.ImagesName(MnistSplit.Test), Is.EqualTo("t10k-images-idx3-ubyte"));
        Assert.That(MnistFiles.LabelsName(MnistSplit.Test), Is.EqualTo("t10k-labels-idx1-ubyte"));
        Assert.That(MnistFiles.Missing(TestPaths.MnistDirectory), Is.Empty);
    }
}
