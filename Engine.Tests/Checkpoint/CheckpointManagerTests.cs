using Engine.Checkpoint;

namespace Engine.Tests.Checkpoint;

public sealed class CheckpointManagerTests
{
    private ScratchDirectory _scratch = null!;

    [SetUp]
    public void CreateDirectory() => _scratch = new ScratchDirectory();

    [TearDown]
    public void DeleteDirectory() => _scratch.Dispose();

    [Test]
    public void EmptyOrAbsentDirectoryHasNoCheckpoint()
    {
        var manager = new CheckpointManager(Path.Combine(_scratch.Path, "not-yet"));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(manager.RestoreLatest(), Is.Null);
            Assert.That(manager.LatestPath, Is.Null);
            Assert.That(manager.Checkpoints, Is.Empty);
        }
    }

    [Test]
    public void SaveNumbersFilesAndKeepsTheLastNDeletingOnlyTheOldest()
    {
        var manager = new CheckpointManager(_scratch.Path, maxToKeep: 3);
        string[] unrelated = ["notes.txt", "ckpt-final.ckpt", "other-0001.ckpt", "ckpt-1.ckpt", "ckpt-0001.ckpt.bak"];
        foreach (string name in unrelated)
        {
            File.WriteAllText(_scratch.File(name), "not a checkpoint");
        }

        var paths = new List<string>();
        for (int epoch = 1; epoch <= 5; epoch++)
        {
            paths.Add(manager.Save(CheckpointSamples.Create(epoch)));
        }

        using (Assert.EnterMultipleScope())
        {
            Assert.That(paths.Select(Path.GetFileName), Is.EqualTo(new[] { "ckpt-0001.ckpt", "ckpt-0002.ckpt", "ckpt-0003.ckpt", "ckpt-0004.ckpt", "ckpt-0005.ckpt" }));
            Assert.That(manager.Checkpoints, Is.EqualTo(paths[2..]));
            Assert.That(manager.LatestPath, Is.EqualTo(paths[4]));
            Assert.That(manager.RestoreLatest()!.Epoch, Is.EqualTo(5));
            Assert.That(Directory.GetFiles(_scratch.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal),
                Is.EqualTo(unrelated.Concat(["checkpoint", "ckpt-0003.ckpt", "ckpt-0004.ckpt", "ckpt-0005.ckpt"]).Order(StringComparer.Ordinal)));
        }
    }

    [Test]
    public void PointerFileIsReadableTextNamingTheLatestAndTheKept()
    {
        var manager = new CheckpointManager(_scratch.Path, maxToKeep: 2);
        for (int epoch = 1; epoch <= 3; epoch++)
        {
            manager.Save(CheckpointSamples.Create(epoch));
        }

        string text = File.ReadAllText(manager.PointerPath);

        Assert.That(text, Is.EqualTo(
            "# Written by Engine.Checkpoint.CheckpointManager: the latest checkpoint, then every kept one (oldest first).\n" +
            "model_checkpoint_path: \"ckpt-0003.ckpt\"\n" +
            "all_model_checkpoint_paths: \"ckpt-0002.ckpt\"\n" +
            "all_model_checkpoint_paths: \"ckpt-0003.ckpt\"\n"));
    }

    [Test]
    public void ExplicitNumbersMustIncrease()
    {
        var manager = new CheckpointManager(_scratch.Path, prefix: "model");
        string path = manager.Save(CheckpointSamples.Create(), number: 10);

        var exception = Assert.Throws<ArgumentOutOfRangeException>(() => manager.Save(CheckpointSamples.Create(), number: 10));

        Assert.That(Path.GetFileName(path), Is.EqualTo("model-0010.ckpt"));
        Assert.That(exception!.Message, Does.Contain("greater than 10").And.Contain("received 10"));
        Assert.That(Path.GetFileName(manager.Save(CheckpointSamples.Create())), Is.EqualTo("model-0011.ckpt"));
    }

    [Test]
    public void RestoreLatestWithoutThePointerFileScansTheDirectory()
    {
        var manager = new CheckpointManager(_scratch.Path);
        for (int epoch = 1; epoch <= 3; epoch++)
        {
            manager.Save(CheckpointSamples.Create(epoch));
        }
        File.Delete(manager.PointerPath);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(manager.RestoreLatest()!.Epoch, Is.EqualTo(3));
            Assert.That(manager.LatestPath, Is.EqualTo(manager.PathFor(3)));
            Assert.That(manager.Checkpoints, Is.EqualTo(new[] { manager.PathFor(1), manager.PathFor(2), manager.PathFor(3) }));
        }
    }

    [TestCase("garbage without a colon")]
    [TestCase("model_checkpoint_path: \"ckpt-0009.ckpt\"\nall_model_checkpoint_paths: \"ckpt-0009.ckpt\"\n")]   // names a missing file
    [TestCase("model_checkpoint_path: \"../elsewhere/ckpt-0002.ckpt\"\nall_model_checkpoint_paths: \"ckpt-0002.ckpt\"\n")]
    [TestCase("model_checkpoint_path: \"ckpt-0001.ckpt\"\nall_model_checkpoint_paths: \"ckpt-0002.ckpt\"\n")]       // latest not last
    [TestCase("")]
    public void DamagedPointerFileFallsBackToScanning(string pointerText)
    {
        var manager = new CheckpointManager(_scratch.Path);
        manager.Save(CheckpointSamples.Create(epoch: 1));
        manager.Save(CheckpointSamples.Create(epoch: 2));
        File.WriteAllText(manager.PointerPath, pointerText);

        Assert.That(manager.RestoreLatest()!.Epoch, Is.EqualTo(2));
        Assert.That(manager.Checkpoints, Is.EqualTo(new[] { manager.PathFor(1), manager.PathFor(2) }));
    }

    [Test]
    public void ScanningSkipsADamagedNewestCheckpoint()
    {
        var manager = new CheckpointManager(_scratch.Path);
        manager.Save(CheckpointSamples.Create(epoch: 1));
        string newest = manager.Save(CheckpointSamples.Create(epoch: 2));
        File.Delete(manager.PointerPath);
        byte[] bytes = File.ReadAllBytes(newest);
        bytes[^40] ^= 0xFF;
        File.WriteAllBytes(newest, bytes);

        Assert.That(manager.RestoreLatest()!.Epoch, Is.EqualTo(1));
    }

    [Test]
    public void DamagedCheckpointNamedByThePointerFileThrowsRatherThanGoingBack()
    {
        var manager = new CheckpointManager(_scratch.Path);
        manager.Save(CheckpointSamples.Create(epoch: 1));
        string newest = manager.Save(CheckpointSamples.Create(epoch: 2));
        File.WriteAllBytes(newest, File.ReadAllBytes(newest)[..100]);

        var exception = Assert.Throws<CheckpointCorruptException>(() => manager.RestoreLatest());

        Assert.That(exception!.Path, Is.EqualTo(newest));
    }

    [Test]
    public void StaleTemporaryFileIsNeverTakenForACheckpointAndIsDeletedByTheNextSave()
    {
        var manager = new CheckpointManager(_scratch.Path);
        manager.Save(CheckpointSamples.Create(epoch: 1));
        // A complete, valid checkpoint under a temporary name: what a writer killed just before its rename leaves.
        string staleCheckpoint = _scratch.File(".ckpt-0002.ckpt.0badf00d.tmp");
        CheckpointFile.Save(staleCheckpoint, CheckpointSamples.Create(epoch: 99));
        string stalePointer = _scratch.File(".checkpoint.12345678.tmp");
        File.WriteAllText(stalePointer, "model_checkpoint_path: \"ckpt-0002.ckpt\"\n");
        string foreign = _scratch.File(".someone-else.tmp");
        File.WriteAllText(foreign, "not ours");

        Assert.That(manager.RestoreLatest()!.Epoch, Is.EqualTo(1));
        File.Delete(manager.PointerPath);
        Assert.That(manager.RestoreLatest()!.Epoch, Is.EqualTo(1));
        Assert.That(manager.Checkpoints, Is.EqualTo(new[] { manager.PathFor(1) }));

        string next = manager.Save(CheckpointSamples.Create(epoch: 2));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(Path.GetFileName(next), Is.EqualTo("ckpt-0002.ckpt"));
            Assert.That(File.Exists(staleCheckpoint), Is.False);
            Assert.That(File.Exists(stalePointer), Is.False);
            Assert.That(File.Exists(foreign), Is.True);
        }
    }

    [Test]
    public void ConstructorRefusesBadArgumentsNamingTheValue()
    {
        var keep = Assert.Throws<ArgumentOutOfRangeException>(() => new CheckpointManager(_scratch.Path, maxToKeep: 0));
        var prefix = Assert.Throws<ArgumentException>(() => new CheckpointManager(_scratch.Path, prefix: "a/b"));

        Assert.That(keep!.Message, Does.Contain("maxToKeep=0"));
        Assert.That(prefix!.Message, Does.Contain("\"a/b\""));
    }
}
