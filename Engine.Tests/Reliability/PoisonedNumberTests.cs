using System.Text.RegularExpressions;

using Engine.Checkpoint;
using Engine.Tests.Mnist;
using global::Mnist;

namespace Engine.Tests.Reliability;

/// <summary>
/// Poisoned numbers: a learning rate that makes training diverge stops <c>train</c> at the first non-finite value
/// (training loss or gradient, an update that overflows float32, or the test loss after an epoch) with one line
/// naming the step and the first layer or parameter, exit code 1, and the last good checkpoint kept and loadable.
/// NaN or infinite input data cannot come from IDX bytes (uint8); the engine's own check of it is
/// FitTests.DivergenceStopsAtTheFirstNonFiniteLossAndNamesTheStep.
/// </summary>
[NonParallelizable]
public class PoisonedNumberTests
{
    /// <summary>Names a layer ("layer 9 (Dense 'dense_1')") or a parameter ("conv2d/kernel").</summary>
    private const string LayerOrParameter = @"(layer \d+ \(\w+ '\w+'\)|\b\w+/(kernel|bias)\b)";

    private static ConsoleResult Train(string checkpoints, string learningRate, string trainImages, params string[] more) =>
        ConsoleRunner.Run(["train", "--data", SmallMnist.Directory, "--checkpoint-dir", checkpoints, "--train-limit", trainImages,
            "--test-limit", "100", "--threads", "1", "--learning-rate", learningRate, .. more]);

    private static string AssertOneLineFailure(ConsoleResult result)
    {
        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Failure), result.ToString());
        string line = result.Error.TrimEnd();
        Assert.That(line, Does.StartWith("error: training diverged: ").And.Not.Contain('\n').And.Not.Contain("   at "), result.ToString());
        Assert.That(line, Does.Match(LayerOrParameter), "names the first layer or parameter that is not finite");
        return line;
    }

    [Test]
    public void AHugeLearningRateStopsAtTheFirstNonFiniteStepAndKeepsTheLastGoodCheckpoint()
    {
        // Adam moves every weight by about the learning rate per step: 1e4 keeps the first steps finite and
        // overflows float32 a few steps later. One batch per epoch, so every step ends an epoch with a checkpoint.
        using var folder = ConsoleRunner.TemporaryDirectory();
        string checkpoints = folder["checkpoints"];
        ConsoleResult result = Train(checkpoints, "1e4", "100", "--epochs", "20");
        string line = AssertOneLineFailure(result);
        TestContext.Out.WriteLine(line);

        Match match = Regex.Match(line, @"^error: training diverged: Epoch (\d+)(, batch \d+)?[:,].*optimizer step (\d+)");
        Assert.That(match.Success, line);
        int diverged = int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(diverged, Is.GreaterThanOrEqualTo(2), "the first epoch stays finite, so there is a checkpoint to keep");
        int kept = diverged - 1;
        var manager = new CheckpointManager(checkpoints);
        string latest = manager.LatestPath!;
        Assert.That(latest, Is.EqualTo(Path.Combine(Path.GetFullPath(checkpoints), $"ckpt-{kept:D4}.ckpt")));
        Assert.That(line, Does.EndWith($"The last good checkpoint, {latest} (after epoch {kept}), is kept."));
        Assert.That(result.Lines.Count(l => l.StartsWith("epoch ", StringComparison.Ordinal)), Is.EqualTo(kept), "one line per good epoch");

        CheckpointContents contents = CheckpointFile.Load(latest);
        Assert.That((contents.Epoch, contents.Step), Is.EqualTo((kept, 0L)));
        Assert.That(contents.Parameters.All(p => p.Value.ReadOnlySpan.ToArray().All(float.IsFinite)), "the kept weights are finite");
        Assert.That(Directory.GetFiles(checkpoints, "*.tmp"), Is.Empty);
        Assert.That(File.Exists(Path.Combine(checkpoints, "report.json")), Is.False, "a diverged run writes no report");
        Assert.That(File.Exists(Path.Combine(checkpoints, CheckpointLock.FileName)), Is.False, "the lock is released");

        // Resuming the kept checkpoint (its learning rate is kept too) diverges again at the same step, and keeps it.
        byte[] keptBytes = File.ReadAllBytes(latest);
        ConsoleResult resumed = ConsoleRunner.Run("train", "--data", SmallMnist.Directory, "--checkpoint-dir", checkpoints,
            "--test-limit", "100", "--threads", "2", "--resume", "--epochs", "20");
        Assert.That(AssertOneLineFailure(resumed), Is.EqualTo(line), "the same step, layer and checkpoint, with any thread count");
        Assert.That(File.ReadAllBytes(latest), Is.EqualTo(keptBytes));
        Assert.That(manager.LatestPath, Is.EqualTo(latest));
    }

    // Which check fires depends on where float32 first overflows: the engine's (loss or gradient of a training step),
    // the console's after each step (the update itself), or the console's after each epoch (the test loss).
    [TestCase("1e8", "200", @"Epoch 1, batch 2: Training diverged at optimizer step 2: the loss is (NaN|-?Infinity); the first non-finite value appears in the output of layer \d+")]
    [TestCase("1e8", "100", @"Epoch 1, after optimizer step 1: the test loss is (NaN|-?Infinity); the first non-finite value appears in the output of layer \d+ \(\w+ '\w+'\) for test images 0\.\.99\. The epoch's weights were not saved\.")]
    [TestCase("1e300", "100", @"Epoch 1, batch 1: the update of optimizer step 1 made conv2d/kernel not finite")]
    public void EveryKindOfDivergenceIsOneLineNamingTheStep(string learningRate, string trainImages, string expected)
    {
        using var folder = ConsoleRunner.TemporaryDirectory();
        string checkpoints = folder["checkpoints"];
        ConsoleResult result = Train(checkpoints, learningRate, trainImages, "--epochs", "3");
        string line = AssertOneLineFailure(result);
        TestContext.Out.WriteLine(line);
        Assert.That(line, Does.Match("^error: training diverged: " + expected).And.EndWith(" No checkpoint was saved."));
        Assert.That(Directory.GetFiles(checkpoints), Is.Empty, "no checkpoint, no temporary file, no report, no lock file");
    }
}
