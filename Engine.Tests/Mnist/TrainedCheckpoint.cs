namespace Engine.Tests.Mnist;

/// <summary>One checkpoint trained once (1 epoch on 300 images) and shared by the evaluate, predict and error tests.</summary>
public static class TrainedCheckpoint
{
    private static readonly Lazy<string> Folder = new(() =>
    {
        string folder = Path.Combine(Path.GetTempPath(), "mnist-console-tests", "trained-" + Guid.NewGuid().ToString("N"));
        ConsoleResult result = ConsoleRunner.Run("train", "--data", ConsoleRunner.Data, "--checkpoint-dir", folder,
            "--epochs", "1", "--train-limit", "300", "--test-limit", "100");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        return folder;
    });

    /// <summary>The checkpoint folder (holds ckpt-0001.ckpt).</summary>
    public static string Directory => Folder.Value;

    /// <summary>The checkpoint file.</summary>
    public static string File => Path.Combine(Directory, "ckpt-0001.ckpt");

    /// <summary>Deletes the folder if it was made.</summary>
    internal static void Delete()
    {
        if (Folder.IsValueCreated && System.IO.Directory.Exists(Folder.Value))
        {
            System.IO.Directory.Delete(Folder.Value, recursive: true);
        }
    }
}

/// <summary>Deletes the shared trained checkpoint after every console test has run.</summary>
[SetUpFixture]
public sealed class ConsoleTestsCleanup
{
    [OneTimeTearDown]
    public void DeleteTrainedCheckpoint() => TrainedCheckpoint.Delete();
}
