using Engine.Checkpoint;
using Engine.Optimizers;

namespace Engine.Tests.Mnist;

/// <summary>Every bad input gives one clear line on stderr and exit code 2 (usage) or 1 (runtime), never a stack trace.</summary>
[NonParallelizable]
public class CommandErrorTests
{
    private static void AssertOneLineError(ConsoleResult result, int exitCode, string message)
    {
        Assert.That(result.ExitCode, Is.EqualTo(exitCode), result.ToString());
        string error = result.Error.Trim();
        Assert.That(error, Does.Contain(message), result.ToString());
        Assert.That(error, Does.Not.Contain("\n"), "one line");
        Assert.That(error, Does.Not.Match(@"\sat [\w.]+\(").And.Not.Contain("Exception"), "no stack trace");
    }

    public static IEnumerable<TestCaseData> UsageErrors()
    {
        yield return new TestCaseData(new[] { "train", "--bogus" }, "Unrecognized command or argument '--bogus'").SetName("UnknownOption");
        yield return new TestCaseData(new[] { "frobnicate" }, "Unrecognized command or argument 'frobnicate'").SetName("UnknownCommand");
        yield return new TestCaseData(Array.Empty<string>(), "Required command was not provided").SetName("NoCommand");
        yield return new TestCaseData(new[] { "train", "--epochs", "0" }, "--epochs must be at least 1; received 0.").SetName("EpochsZero");
        yield return new TestCaseData(new[] { "train", "--epochs", "many" }, "--epochs expects a whole number; received 'many'.").SetName("EpochsNotANumber");
        yield return new TestCaseData(new[] { "train", "--batch-size", "0" }, "--batch-size must be at least 1; received 0.").SetName("BatchSizeZero");
        yield return new TestCaseData(new[] { "train", "--learning-rate", "0" }, "--learning-rate must be greater than 0; received 0.").SetName("LearningRateZero");
        yield return new TestCaseData(new[] { "train", "--learning-rate", "-0.1" }, "--learning-rate must be greater than 0; received -0.1.").SetName("LearningRateNegative");
        yield return new TestCaseData(new[] { "train", "--learning-rate", "NaN" }, "--learning-rate expects a number; received 'NaN'.").SetName("LearningRateNaN");
        yield return new TestCaseData(new[] { "train", "--threads", "0" }, "--threads must be at least 1; received 0.").SetName("ThreadsZero");
        yield return new TestCaseData(new[] { "train", "--train-limit", "0" }, "--train-limit must be at least 1; received 0.").SetName("TrainLimitZero");
        yield return new TestCaseData(new[] { "evaluate", "--threads", "-2" }, "--threads must be at least 1; received -2.").SetName("EvaluateThreads");
        yield return new TestCaseData(new[] { "predict" }, "predict needs exactly one of --index I (a test image) or --image FILE.").SetName("PredictNothing");
        yield return new TestCaseData(new[] { "predict", "--index", "1", "--image", "x.png" }, "exactly one of").SetName("PredictBoth");
        yield return new TestCaseData(new[] { "predict", "--index", "-1" }, "--index must be at least 0; received -1.").SetName("PredictNegativeIndex");
    }

    [TestCaseSource(nameof(UsageErrors))]
    public void UsageErrorsExitWithTwo(string[] args, string message) => AssertOneLineError(ConsoleRunner.Run(args), 2, message);

    [Test]
    public void HelpWorksForEveryCommand()
    {
        foreach (string command in new[] { "train", "evaluate", "predict", "summary", "basics" })
        {
            ConsoleResult result = ConsoleRunner.Run(command, "--help");
            Assert.That(result.ExitCode, Is.Zero, result.ToString());
            Assert.That(result.Output, Does.Contain("Usage:"), command);
        }
        Assert.That(ConsoleRunner.Run("train", "--help").Output, Does.Contain("--checkpoint-dir").And.Contain("--resume").And.Not.Contain("--test-limit"));
    }

    [Test]
    public void MissingDataFolder()
    {
        using var folder = ConsoleRunner.TemporaryDirectory();
        AssertOneLineError(ConsoleRunner.Run("train", "--data", folder["nowhere"], "--checkpoint-dir", folder["checkpoints"]), 1, "nowhere");
        AssertOneLineError(ConsoleRunner.Run("train", "--data", folder.Path, "--checkpoint-dir", folder["checkpoints"]), 1, "train-images-idx3-ubyte");
    }

    [Test]
    public void DamagedDataFiles()
    {
        using var folder = ConsoleRunner.TemporaryDirectory();
        foreach (string file in Directory.GetFiles(ConsoleRunner.Data, "*.gz"))
        {
            File.Copy(file, folder[Path.GetFileName(file)]);
        }
        byte[] images = File.ReadAllBytes(folder["t10k-images-idx3-ubyte.gz"]);
        File.WriteAllBytes(folder["t10k-images-idx3-ubyte.gz"], images[..(images.Length / 2)]);
        AssertOneLineError(ConsoleRunner.Run("evaluate", "--data", folder.Path, "--checkpoint-dir", TrainedCheckpoint.Directory), 1, "t10k-images");
    }

    [Test]
    public void MissingCheckpoint()
    {
        using var folder = ConsoleRunner.TemporaryDirectory();
        AssertOneLineError(ConsoleRunner.Run("evaluate", "--data", ConsoleRunner.Data, "--checkpoint-dir", folder.Path), 1, "no checkpoint in");
        AssertOneLineError(ConsoleRunner.Run("predict", "--index", "0", "--checkpoint-dir", folder.Path), 1, "no checkpoint in");
        AssertOneLineError(ConsoleRunner.Run("evaluate", "--checkpoint-dir", TrainedCheckpoint.Directory, "--checkpoint", "ckpt-0042.ckpt"), 1,
            "checkpoint 'ckpt-0042.ckpt' not found");
        AssertOneLineError(ConsoleRunner.Run("train", "--data", ConsoleRunner.Data, "--checkpoint-dir", folder.Path, "--resume"), 1,
            "no checkpoint in");
    }

    [Test]
    public void DamagedCheckpoint()
    {
        using var folder = ConsoleRunner.TemporaryDirectory();
        byte[] bytes = File.ReadAllBytes(TrainedCheckpoint.File);
        bytes[bytes.Length / 2] ^= 0x5A;
        File.WriteAllBytes(folder["ckpt-0001.ckpt"], bytes);
        AssertOneLineError(ConsoleRunner.Run("evaluate", "--data", ConsoleRunner.Data, "--checkpoint-dir", folder.Path), 1, "cannot use the checkpoint");
        AssertOneLineError(ConsoleRunner.Run("train", "--data", ConsoleRunner.Data, "--checkpoint-dir", folder.Path, "--resume"), 1,
            "cannot use the checkpoint");
    }

    [Test]
    public void CheckpointOfAnotherModel()
    {
        using var folder = ConsoleRunner.TemporaryDirectory();
        Sequential other = ReferenceModels.MnistCnn(dropoutRate: 0); // no Dropout layer: another architecture
        other.Build(ReferenceModels.MnistInput, new ModelOptions(BatchSize: 1, Threads: 1));
        other.Compile(new Adam());
        new CheckpointManager(folder.Path).Save(ModelCheckpoint.Capture(other, new TrainingPosition(1, 0, 42)));
        AssertOneLineError(ConsoleRunner.Run("predict", "--index", "0", "--data", ConsoleRunner.Data, "--checkpoint-dir", folder.Path), 1,
            "cannot use the checkpoint");
        AssertOneLineError(ConsoleRunner.Run("train", "--data", ConsoleRunner.Data, "--checkpoint-dir", folder.Path, "--resume", "--epochs", "2"), 1,
            "cannot use the checkpoint");
    }

    [Test]
    public void UnreadableOrMissingImage()
    {
        using var folder = ConsoleRunner.TemporaryDirectory();
        File.WriteAllText(folder["not-an-image.png"], "hello");
        AssertOneLineError(ConsoleRunner.Run("predict", "--image", folder["not-an-image.png"], "--checkpoint-dir", TrainedCheckpoint.Directory), 1,
            "cannot read");
        AssertOneLineError(ConsoleRunner.Run("predict", "--image", folder["missing.png"], "--checkpoint-dir", TrainedCheckpoint.Directory), 1,
            "not found");
    }

    [Test]
    public void PredictIndexOutsideTheTestSet() =>
        AssertOneLineError(ConsoleRunner.Run("predict", "--index", "10000", "--data", ConsoleRunner.Data, "--checkpoint-dir", TrainedCheckpoint.Directory), 2,
            "--index must be below 10000");

    [Test]
    public void UnwritableOutputFolders()
    {
        // /proc refuses new entries even to root, so this works whoever runs the tests.
        const string unwritable = "/proc/mnist-console-test";
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("needs /proc");
        }
        AssertOneLineError(ConsoleRunner.Run("train", "--data", ConsoleRunner.Data, "--checkpoint-dir", unwritable), 1, "cannot write to the checkpoint folder");
        using var folder = ConsoleRunner.TemporaryDirectory();
        AssertOneLineError(ConsoleRunner.Run("train", "--data", ConsoleRunner.Data, "--checkpoint-dir", folder.Path, "--report", unwritable + "/report.json"), 1,
            "cannot write to the report folder");
        AssertOneLineError(ConsoleRunner.Run("basics", "--out", unwritable), 1, "cannot write to the output folder");
        AssertOneLineError(ConsoleRunner.Run("evaluate", "--checkpoint-dir", TrainedCheckpoint.Directory, "--plots", unwritable), 1,
            "cannot write to the plots folder");
    }
}
