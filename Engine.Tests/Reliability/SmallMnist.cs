using Engine.Data;
using Engine.Tests.Mnist;

namespace Engine.Tests.Reliability;

/// <summary>
/// The first <see cref="TrainImages"/> training and <see cref="TestImages"/> test images of MNIST as raw IDX files in a
/// temporary folder, made once per test run: a console started on it loads its data in milliseconds instead of
/// decompressing all 70,000 images, so a test can start many of them.
/// </summary>
public static class SmallMnist
{
    public const int TrainImages = 1000, TestImages = 200;

    private static readonly Lazy<string> Folder = new(() =>
    {
        string folder = Path.Combine(Path.GetTempPath(), "mnist-console-tests", "small-mnist-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(folder);
        Write(folder, MnistSplit.Train, TrainImages);
        Write(folder, MnistSplit.Test, TestImages);
        return folder;
    });

    /// <summary>The folder, passed as --data.</summary>
    public static string Directory => Folder.Value;

    private static void Write(string folder, MnistSplit split, int count)
    {
        const int pixels = MnistDataset.ImageHeight * MnistDataset.ImageWidth;
        string images = MnistFiles.ImagesName(split), labels = MnistFiles.LabelsName(split);
        IdxArray allImages = IdxReader.Read(MnistFiles.Find(ConsoleRunner.Data, images)!);
        IdxArray allLabels = IdxReader.Read(MnistFiles.Find(ConsoleRunner.Data, labels)!);
        IdxWriter.Write(IdxArray.Create(allImages.GetValues<byte>()[..(count * pixels)].ToArray(),
            count, MnistDataset.ImageHeight, MnistDataset.ImageWidth), Path.Combine(folder, images));
        IdxWriter.Write(IdxArray.Create(allLabels.GetValues<byte>()[..count].ToArray(), count), Path.Combine(folder, labels));
    }

    /// <summary>Deletes the folder if it was made.</summary>
    internal static void Delete()
    {
        if (Folder.IsValueCreated && System.IO.Directory.Exists(Folder.Value))
        {
            System.IO.Directory.Delete(Folder.Value, recursive: true);
        }
    }
}

/// <summary>Deletes the small MNIST folder after every reliability test has run.</summary>
[SetUpFixture]
public sealed class ReliabilityTestsCleanup
{
    [OneTimeTearDown]
    public void DeleteSmallMnist() => SmallMnist.Delete();
}
