using System.Text.Json;
using global::Mnist;

namespace Engine.Tests.Mnist;

/// <summary>
/// <c>train</c> end to end on a few hundred images: report, plots, checkpoints, resume (at an epoch
/// boundary and mid-epoch after a cancel), and bit-identical weights for equal seeds at any thread count.
/// </summary>
[NonParallelizable]
public class TrainCommandTests
{
    private const string Images = "500";
    private const string TestImages = "100";

    /// <summary>The report of training 2 epochs on 500 images with seed 7 straight through.</summary>
    private static readonly Lazy<RunReport> StraightTwoEpochs = new(() =>
    {
        using var folder = ConsoleRunner.TemporaryDirectory();
        ConsoleResult result = Train(folder["checkpoints"], "--epochs", "2", "--seed", "7");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        return ReadReport(folder["checkpoints"]);
    });

    private static ConsoleResult Train(string checkpoints, params string[] more) =>
        ConsoleRunner.Run(Arguments(checkpoints, more));

    private static string[] Arguments(string checkpoints, string[] more) =>
    [
        "train", "--data", ConsoleRunner.Data, "--checkpoint-dir", checkpoints, "--train-limit", Images, "--test-limit", TestImages,
        "--threads", "2", .. more,
    ];

    private static RunReport ReadReport(string checkpoints) => RunReport.FromJson(File.ReadAllText(Path.Combine(checkpoints, "report.json")));

    private static string[] EpochLines(ConsoleResult result) => result.Lines.Where(l => l.StartsWith("epoch ", StringComparison.Ordinal)).ToArray();

    [Test]
    public void OneEpochWritesAParsableReportValidPlotsAndACheckpoint()
    {
        using var folder = ConsoleRunner.TemporaryDirectory();
        ConsoleResult result = ConsoleRunner.Run("train", "--data", ConsoleRunner.Data, "--checkpoint-dir", folder["checkpoints"],
            "--epochs", "1", "--train-limit", "2000", "--test-limit", "500", "--plots", folder["plots"]);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Output, Does.Contain("Total params: 619,786"));
        Assert.That(EpochLines(result), Has.Length.EqualTo(1), "redirected output has exactly one line per epoch");

        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(folder["checkpoints/report.json"]));
        JsonElement root = json.RootElement;
        Assert.Multiple(() =>
        {
            JsonElement hyper = root.GetProperty("hyperparameters");
            Assert.That(hyper.GetProperty("learning_rate").GetDouble(), Is.EqualTo(0.001));
            Assert.That(hyper.GetProperty("batch_size").GetInt32(), Is.EqualTo(100));
            Assert.That(hyper.GetProperty("shuffle_buffer").GetInt32(), Is.EqualTo(100_000));
            Assert.That(hyper.GetProperty("train_images").GetInt32(), Is.EqualTo(2000));
            JsonElement epoch = root.GetProperty("epochs")[0];
            Assert.That(epoch.GetProperty("epoch").GetInt32(), Is.EqualTo(1));
            foreach (string field in new[] { "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds", "images_per_second" })
            {
                Assert.That(double.IsFinite(epoch.GetProperty(field).GetDouble()), Is.True, field);
            }
            Assert.That(root.GetProperty("test_accuracy").GetDouble(), Is.InRange(0.5, 1.0), "2000 images already reach well above chance");
            Assert.That(root.GetProperty("parameters_sha256").GetString(), Does.Match("^[0-9a-f]{64}$"));
            Assert.That(root.GetProperty("threads").GetInt32(), Is.GreaterThanOrEqualTo(1));
            JsonElement machine = root.GetProperty("machine");
            Assert.That(machine.GetProperty("os").GetString(), Is.Not.Empty);
            Assert.That(machine.GetProperty("cpu").GetString(), Is.Not.Empty);
            Assert.That(machine.GetProperty("simd_width_bits").GetInt32(), Is.GreaterThanOrEqualTo(128));
            Assert.That(machine.GetProperty("dotnet").GetString(), Does.Contain(".NET"));
        });
        Png.AssertValid(folder["plots/loss.png"]);
        Png.AssertValid(folder["plots/accuracy.png"]);
        Assert.That(Directory.GetFiles(folder["checkpoints"], "ckpt-*.ckpt"), Has.Length.EqualTo(1));
    }

    [Test]
    public void EqualSeedsGiveEqualWeightsWithOneOrTwoThreads()
    {
        using var folder = ConsoleRunner.TemporaryDirectory();
        string[] digests = new[] { ("a", "1"), ("b", "2"), ("c", "2") }.Select(run =>
        {
            ConsoleResult result = ConsoleRunner.Run("train", "--data", ConsoleRunner.Data, "--checkpoint-dir", folder[run.Item1],
                "--epochs", "1", "--train-limit", Images, "--test-limit", TestImages, "--seed", "11", "--threads", run.Item2);
            Assert.That(result.ExitCode, Is.Zero, result.ToString());
            RunReport report = ReadReport(folder[run.Item1]);
            Assert.That(report.Threads, Is.EqualTo(int.Parse(run.Item2, System.Globalization.CultureInfo.InvariantCulture)));
            return report.ParametersSha256;
        }).ToArray();
        Assert.That(digests.Distinct().Count(), Is.EqualTo(1), string.Join(", ", digests));

        ConsoleResult other = ConsoleRunner.Run("train", "--data", ConsoleRunner.Data, "--checkpoint-dir", folder["d"],
            "--epochs", "1", "--train-limit", Images, "--test-limit", TestImages, "--seed", "12", "--threads", "2");
        Assert.That(ReadReport(folder["d"]).ParametersSha256, Is.Not.EqualTo(digests[0]), other.ToString());
    }

    [Test]
    public void ResumeContinuesFromTheSavedEpochToTheSameWeights()
    {
        using var folder = ConsoleRunner.TemporaryDirectory();
        ConsoleResult first = Train(folder["checkpoints"], "--epochs", "1", "--seed", "7");
        Assert.That(first.ExitCode, Is.Zero, first.ToString());

        ConsoleResult resumed = ConsoleRunner.Run("train", "--data", ConsoleRunner.Data, "--checkpoint-dir", folder["checkpoints"],
            "--test-limit", TestImages, "--threads", "1", "--resume", "--epochs", "2");
        Assert.That(resumed.ExitCode, Is.Zero, resumed.ToString());
        Assert.That(resumed.Output, Does.Contain("Resuming from ckpt-0001.ckpt at epoch 2"));
        Assert.That(EpochLines(resumed), Has.Length.EqualTo(1).And.All.StartsWith("epoch 2/2"));
        RunReport report = ReadReport(folder["checkpoints"]);
        Assert.That(report.Epochs.Select(e => e.Epoch), Is.EqualTo(new[] { 1, 2 }));
        Assert.That(report.Hyperparameters.TrainImages, Is.EqualTo(500), "the checkpoint's --train-limit is kept");
        Assert.That(report.ParametersSha256, Is.EqualTo(StraightTwoEpochs.Value.ParametersSha256));
    }

    [Test]
    public void CancellingStopsAfterTheBatchSavesACheckpointAndResumesExactly()
    {
        using var folder = ConsoleRunner.TemporaryDirectory();
        using var cancel = new CancellationTokenSource();
        ConsoleResult stopped = ConsoleRunner.Run(p => { if (p.Epoch == 0 && p.Batch == 2) { cancel.Cancel(); } }, cancel.Token,
            Arguments(folder["checkpoints"], ["--epochs", "2", "--seed", "7"]));
        Assert.That(stopped.ExitCode, Is.EqualTo(130), stopped.ToString());
        Assert.That(stopped.Output, Does.Contain("Interrupted in epoch 1 after batch 2 of 5"));
        Assert.That(stopped.Output, Does.Contain("Resume with: mnist train --resume --checkpoint-dir"));
        Assert.That(File.Exists(folder["checkpoints/report.json"]), Is.False, "an interrupted run writes no report");

        ConsoleResult resumed = ConsoleRunner.Run("train", "--data", ConsoleRunner.Data, "--checkpoint-dir", folder["checkpoints"],
            "--test-limit", TestImages, "--resume", "--epochs", "2");
        Assert.That(resumed.ExitCode, Is.Zero, resumed.ToString());
        Assert.That(resumed.Output, Does.Contain("at epoch 1, batch 2"));
        Assert.That(EpochLines(resumed), Has.Length.EqualTo(2));
        RunReport report = ReadReport(folder["checkpoints"]);
        Assert.That(report.ParametersSha256, Is.EqualTo(StraightTwoEpochs.Value.ParametersSha256));
        EpochReport interrupted = report.Epochs[0], straight = StraightTwoEpochs.Value.Epochs[0];
        Assert.That(interrupted.TrainLoss, Is.EqualTo(straight.TrainLoss).Within(1e-9), "the interrupted epoch reports all its batches");
        Assert.That(interrupted.TrainAccuracy, Is.EqualTo(straight.TrainAccuracy).Within(1e-9));
        Assert.That(interrupted.TestAccuracy, Is.EqualTo(straight.TestAccuracy));
    }

    [Test]
    public void AFreshRunRefusesAFolderWithCheckpointsAndLeavesThemAndTheReportAlone()
    {
        using var folder = ConsoleRunner.TemporaryDirectory();
        ConsoleResult first = Train(folder["checkpoints"], "--epochs", "1");
        Assert.That(first.ExitCode, Is.Zero, first.ToString());
        string report = File.ReadAllText(folder["checkpoints/report.json"]);
        byte[] checkpoint = File.ReadAllBytes(folder["checkpoints/ckpt-0001.ckpt"]);

        ConsoleResult again = Train(folder["checkpoints"], "--epochs", "1");
        Assert.That(again.ExitCode, Is.EqualTo(2));
        Assert.That(again.Error, Does.Contain("already holds checkpoints").And.Contain("--resume"));
        Assert.That(again.Error.Trim().Split('\n'), Has.Length.EqualTo(1));

        ConsoleResult contradicting = ConsoleRunner.Run("train", "--data", ConsoleRunner.Data, "--checkpoint-dir", folder["checkpoints"],
            "--resume", "--epochs", "2", "--batch-size", "50");
        Assert.That(contradicting.ExitCode, Is.EqualTo(2));
        Assert.That(contradicting.Error, Does.Contain("--batch-size 50 contradicts the checkpoint"));

        ConsoleResult done = ConsoleRunner.Run("train", "--data", ConsoleRunner.Data, "--checkpoint-dir", folder["checkpoints"], "--resume", "--epochs", "1");
        Assert.That(done.ExitCode, Is.EqualTo(2));
        Assert.That(done.Error, Does.Contain("already trained 1 epoch;"));

        Assert.That(File.ReadAllText(folder["checkpoints/report.json"]), Is.EqualTo(report));
        Assert.That(File.ReadAllBytes(folder["checkpoints/ckpt-0001.ckpt"]), Is.EqualTo(checkpoint));
    }

    [Test]
    public void OnATerminalTheLiveBarsStillEndWithOneLinePerEpoch()
    {
        using var folder = ConsoleRunner.TemporaryDirectory();
        ConsoleResult result = ConsoleRunner.Run(terminal: true, null, default, "train", "--data", ConsoleRunner.Data,
            "--checkpoint-dir", folder["checkpoints"], "--epochs", "1", "--train-limit", "200", "--test-limit", TestImages);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Output, Does.Contain("epoch 1/1  loss").And.Contain("saved ckpt-0001.ckpt"));
    }
}
