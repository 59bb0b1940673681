using Engine.Checkpoint;
using Engine.Tests.Mnist;
using global::Mnist;

namespace Engine.Tests.Reliability;

/// <summary>
/// A full disk and a folder without write permission: <c>train</c> fails the save with one line on stderr (exit 1),
/// the previous checkpoint stays byte for byte, nothing half-written is left, and once there is room again
/// <c>train --resume</c> continues from it. On the real thing where this process may mount (a tmpfs too small for a
/// second checkpoint, a read-only bind mount made mid-run); otherwise, and always as a second case, through a
/// simulated disk behind the checkpoint manager that fails part-way through a write.
/// </summary>
[NonParallelizable]
public class FullDiskTests
{
    /// <summary>How the failure is produced.</summary>
    public enum Medium
    {
        /// <summary>A mounted file system (falls back to <see cref="Simulated"/> where mounting is not permitted).</summary>
        FileSystem,

        /// <summary><see cref="SimulatedDisk"/>, always available.</summary>
        Simulated,
    }

    /// <summary>Room for one checkpoint (7.4 MB: weights and Adam's two moments) and the small files, not for a second.</summary>
    private const long OneCheckpointDisk = 11 << 20;

    /// <summary>Too small for any checkpoint.</summary>
    private const long NoCheckpointDisk = 4 << 20;

    private static string[] Train(string checkpoints, params string[] more) =>
    [
        "train", "--data", SmallMnist.Directory, "--checkpoint-dir", checkpoints, "--train-limit", "100", "--test-limit", "100",
        "--threads", "1", .. more,
    ];

    private static bool OnAFileSystem(Medium medium)
    {
        if (medium == Medium.Simulated)
        {
            return false;
        }
        if (ScratchMount.Unavailable is { } reason)
        {
            TestContext.Out.WriteLine($"Cannot mount here ({reason}); the failure is simulated instead.");
            return false;
        }
        return true;
    }

    private static Func<ConsoleSession, ConsoleSession> Through(SimulatedDisk? disk) => session => disk is null ? session
        : session with { CheckpointManager = folder => new CheckpointManager(folder, Checkpoints.Kept) { WrapWrites = disk.Wrap } };

    private static string AssertOneLineSaveFailure(ConsoleResult result, string checkpoints, string kept, string reason)
    {
        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Failure), result.ToString());
        string line = result.Error.TrimEnd();
        TestContext.Out.WriteLine(line);
        Assert.That(line, Does.StartWith($"error: cannot save a checkpoint in '{checkpoints}' ({kept}): ").And.Contain(reason)
            .And.Not.Contain('\n').And.Not.Contain("   at "));
        return line;
    }

    private static void AssertNothingHalfWritten(string checkpoints, params string[] expected)
    {
        string[] names = Directory.GetFiles(checkpoints).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
        Assert.That(names.Where(n => n != CheckpointLock.FileName), Is.EqualTo(expected), "no temporary file, no partial checkpoint");
    }

    private static void AssertResumesFromTheFirstEpoch(string checkpoints)
    {
        ConsoleResult resumed = ConsoleRunner.Run(Train(checkpoints, "--resume", "--epochs", "3"));
        Assert.That(resumed.ExitCode, Is.Zero, resumed.ToString());
        Assert.That(resumed.Output, Does.Contain("Resuming from ckpt-0001.ckpt at epoch 2, batch 0"));
        Assert.That(Directory.GetFiles(checkpoints, "*.tmp"), Is.Empty);
    }

    [TestCase(Medium.FileSystem)]
    [TestCase(Medium.Simulated)]
    public void AFullDiskFailsTheSaveAndKeepsThePreviousCheckpoint(Medium medium)
    {
        using var folder = ConsoleRunner.TemporaryDirectory();
        string checkpoints = folder["checkpoints"], first = Path.Combine(checkpoints, "ckpt-0001.ckpt");
        bool real = OnAFileSystem(medium);
        using ScratchMount? disk = real ? ScratchMount.Tmpfs(checkpoints, OneCheckpointDisk) : null;
        SimulatedDisk? simulated = real ? null : new SimulatedDisk { Capacity = OneCheckpointDisk };

        byte[]? saved = null;
        ConsoleResult result = ConsoleRunner.Run(
            session => Through(simulated)(session) with { OnBatch = p => saved ??= p.Epoch == 1 ? File.ReadAllBytes(first) : null },
            Train(checkpoints, "--epochs", "3"));

        AssertOneLineSaveFailure(result, checkpoints, "the last one, ckpt-0001.ckpt, is intact", "No space left on device");
        Assert.That(result.Lines.Count(l => l.StartsWith("epoch ", StringComparison.Ordinal)), Is.EqualTo(1));
        AssertNothingHalfWritten(checkpoints, CheckpointManager.PointerFileName, "ckpt-0001.ckpt");
        Assert.That(saved, Is.Not.Null, "epoch 2 ran");
        Assert.That(File.ReadAllBytes(first), Is.EqualTo(saved), "the previous checkpoint, byte for byte");
        Assert.That(new CheckpointManager(checkpoints).LatestPath, Is.EqualTo(first));
        Assert.That(CheckpointFile.Load(first).Epoch, Is.EqualTo(1));

        disk?.Resize(64 << 20); // room again
        AssertResumesFromTheFirstEpoch(checkpoints);
    }

    [TestCase(Medium.FileSystem)]
    [TestCase(Medium.Simulated)]
    public void AFullDiskAtTheFirstSaveLeavesAnEmptyFolder(Medium medium)
    {
        using var folder = ConsoleRunner.TemporaryDirectory();
        string checkpoints = folder["checkpoints"];
        bool real = OnAFileSystem(medium);
        using ScratchMount? disk = real ? ScratchMount.Tmpfs(checkpoints, NoCheckpointDisk) : null;
        SimulatedDisk? simulated = real ? null : new SimulatedDisk { Capacity = NoCheckpointDisk };

        ConsoleResult result = ConsoleRunner.Run(Through(simulated), Train(checkpoints, "--epochs", "2"));

        AssertOneLineSaveFailure(result, checkpoints, "no checkpoint was saved before", "No space left on device");
        AssertNothingHalfWritten(checkpoints);
    }

    [TestCase(Medium.FileSystem)]
    [TestCase(Medium.Simulated)]
    public void AFolderThatTurnsReadOnlyFailsTheSaveAndKeepsThePreviousCheckpoint(Medium medium)
    {
        // As root, a chmod does not stop writes; a read-only bind mount stops everyone.
        using var folder = ConsoleRunner.TemporaryDirectory();
        string checkpoints = folder["checkpoints"], first = Path.Combine(checkpoints, "ckpt-0001.ckpt");
        bool real = OnAFileSystem(medium);
        var simulated = new SimulatedDisk();
        ScratchMount? readOnly = null;
        byte[]? saved = null;
        try
        {
            ConsoleResult result = ConsoleRunner.Run(
                session => Through(real ? null : simulated)(session) with
                {
                    OnBatch = p =>
                    {
                        if (p.Epoch == 1 && saved is null)
                        {
                            saved = File.ReadAllBytes(first);
                            if (real)
                            {
                                readOnly = ScratchMount.ReadOnly(checkpoints);
                            }
                            simulated.ReadOnly = true;
                        }
                    },
                },
                Train(checkpoints, "--epochs", "3"));

            AssertOneLineSaveFailure(result, checkpoints, "the last one, ckpt-0001.ckpt, is intact", real ? "Read-only file system" : "is denied");
            AssertNothingHalfWritten(checkpoints, CheckpointManager.PointerFileName, "ckpt-0001.ckpt");
            Assert.That(File.ReadAllBytes(first), Is.EqualTo(saved), "the previous checkpoint, byte for byte");

            if (real)
            {
                // While it stays read-only, a resume is refused before any training.
                ConsoleResult refused = ConsoleRunner.Run(Train(checkpoints, "--resume", "--epochs", "3"));
                Assert.That(refused.ExitCode, Is.EqualTo(ExitCodes.Failure), refused.ToString());
                TestContext.Out.WriteLine(refused.Error.TrimEnd());
                Assert.That(refused.Error.TrimEnd(), Does.StartWith($"error: cannot write to the checkpoint folder '{checkpoints}': ")
                    .And.Contain("Read-only file system").And.Not.Contain('\n'));
                Assert.That(refused.Output, Does.Not.Contain("epoch "));
            }
        }
        finally
        {
            readOnly?.Dispose();
        }
        AssertNothingHalfWritten(checkpoints, CheckpointManager.PointerFileName, "ckpt-0001.ckpt");
        AssertResumesFromTheFirstEpoch(checkpoints);
    }
}
