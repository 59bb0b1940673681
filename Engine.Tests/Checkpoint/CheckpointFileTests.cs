using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

using Engine.Checkpoint;

namespace Engine.Tests.Checkpoint;

public sealed class CheckpointFileTests
{
    private ScratchDirectory _scratch = null!;

    [SetUp]
    public void CreateDirectory() => _scratch = new ScratchDirectory();

    [TearDown]
    public void DeleteDirectory() => _scratch.Dispose();

    [Test]
    public void RoundTripKeepsEveryFieldAndEveryFloatBitForBit()
    {
        CheckpointContents saved = CheckpointSamples.Create();
        string path = _scratch.File("model.ckpt");

        CheckpointFile.Save(path, saved);
        CheckpointContents loaded = CheckpointFile.Load(path);

        CheckpointSamples.AssertEqual(loaded, saved);
        int[] kernelBits = CheckpointSamples.Bits(loaded.Parameters[0].Value);
        Assert.That(kernelBits[..CheckpointSamples.SpecialBits.Length], Is.EqualTo(CheckpointSamples.SpecialBits));
    }

    [Test]
    public void RoundTripOfMinimalContents()
    {
        var saved = new CheckpointContents { Architecture = "", Parameters = [] };
        string path = _scratch.File("empty.ckpt");

        CheckpointFile.Save(path, saved);

        CheckpointSamples.AssertEqual(CheckpointFile.Load(path), saved);
    }

    [TestCase(16_383)]   // just under the 64 KiB write buffer
    [TestCase(16_384)]   // exactly the buffer
    [TestCase(16_385)]
    [TestCase(300_001)]  // several buffers
    public void RoundTripOfTensorsAroundAndBeyondTheWriteBufferSize(int length)
    {
        var random = new RandomSource((ulong)length);
        var tensors = new List<NamedTensor>();
        for (int index = 0; index < 3; index++)
        {
            var tensor = new Tensor(length + index);
            for (int element = 0; element < tensor.Length; element++)
            {
                tensor.Span[element] = BitConverter.Int32BitsToSingle((int)random.NextUInt64() & 0x7F7FFFFF);
            }
            tensors.Add(new NamedTensor($"layer{index}/kernel", tensor));
        }
        var saved = new CheckpointContents { Architecture = "large", Parameters = tensors[..2], OptimizerSlots = tensors[2..] };
        string path = _scratch.File("large.ckpt");

        CheckpointFile.Save(path, saved);

        CheckpointSamples.AssertEqual(CheckpointFile.Load(path), saved);
    }

    [Test]
    public void EqualContentsGiveIdenticalBytes()
    {
        CheckpointFile.Save(_scratch.File("a.ckpt"), CheckpointSamples.Create());
        CheckpointFile.Save(_scratch.File("b.ckpt"), CheckpointSamples.Create());

        Assert.That(File.ReadAllBytes(_scratch.File("a.ckpt")), Is.EqualTo(File.ReadAllBytes(_scratch.File("b.ckpt"))));
    }

    [Test]
    public void FileStartsWithMagicVersionAndLengthAndEndsWithSha256()
    {
        string path = _scratch.File("model.ckpt");
        CheckpointFile.Save(path, CheckpointSamples.Create());
        byte[] bytes = File.ReadAllBytes(path);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(bytes[..8], Is.EqualTo("ENGCKPT\0"u8.ToArray()));
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)), Is.EqualTo(1u));
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(12)), Is.Zero);
            Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(16)), Is.EqualTo((ulong)bytes.Length));
            Assert.That(bytes[^32..], Is.EqualTo(SHA256.HashData(bytes.AsSpan(0, bytes.Length - 32))));
        }
    }

    [Test]
    public void SaveReplacesAnExistingFileAndLeavesNoTemporaryFile()
    {
        string path = _scratch.File("model.ckpt");
        CheckpointFile.Save(path, CheckpointSamples.Create(epoch: 1));

        CheckpointFile.Save(path, CheckpointSamples.Create(epoch: 2));

        Assert.That(CheckpointFile.Load(path).Epoch, Is.EqualTo(2));
        Assert.That(Directory.GetFiles(_scratch.Path).Select(Path.GetFileName), Is.EqualTo(new[] { "model.ckpt" }));
    }

    [Test]
    public void InvalidContentsAreRefusedAndThePreviousFileSurvives()
    {
        string path = _scratch.File("model.ckpt");
        CheckpointFile.Save(path, CheckpointSamples.Create(epoch: 1));
        var tensor = new Tensor(2);
        var duplicate = new CheckpointContents
        {
            Architecture = "x",
            Parameters = [new NamedTensor("dense/kernel", tensor), new NamedTensor("dense/kernel", tensor)],
        };

        var exception = Assert.Throws<ArgumentException>(() => CheckpointFile.Save(path, duplicate));

        Assert.That(exception!.Message, Does.Contain("\"dense/kernel\" twice"));
        Assert.That(CheckpointFile.Load(path).Epoch, Is.EqualTo(1));
        Assert.That(Directory.GetFiles(_scratch.Path), Has.Length.EqualTo(1));
    }

    [Test]
    public void NegativeEpochIsRefusedWithTheValueReceived()
    {
        var contents = new CheckpointContents { Architecture = "x", Parameters = [], Epoch = -3 };

        var exception = Assert.Throws<ArgumentException>(() => CheckpointFile.Save(_scratch.File("model.ckpt"), contents));

        Assert.That(exception!.Message, Does.Contain("Epoch=-3").And.Contain(">= 0"));
    }

    [Test]
    public void EveryFlippedByteIsDetected()
    {
        string path = _scratch.File("model.ckpt");
        CheckpointFile.Save(path, CheckpointSamples.Create());
        byte[] original = File.ReadAllBytes(path);
        string damaged = _scratch.File("damaged.ckpt");

        for (int position = 0; position < original.Length; position++)
        {
            byte[] bytes = (byte[])original.Clone();
            bytes[position] ^= 0x10;
            File.WriteAllBytes(damaged, bytes);

            var exception = Assert.Throws(Is.InstanceOf<CheckpointException>(), () => CheckpointFile.Load(damaged), $"byte {position}");
            Assert.That(exception!.Message, Does.Contain(damaged), $"byte {position}");
        }
    }

    [TestCase(0, "magic")]
    [TestCase(7, "magic")]
    [TestCase(12, "checksum differs")]
    [TestCase(16, "declares")]
    [TestCase(30, "checksum differs")]
    [TestCase(-100, "checksum differs")]
    [TestCase(-1, "checksum differs")]
    [TestCase(-32, "checksum differs")]
    public void FlippedByteGivesACorruptErrorNamingTheProblem(int position, string expected)
    {
        string path = _scratch.File("model.ckpt");
        CheckpointFile.Save(path, CheckpointSamples.Create());
        byte[] bytes = File.ReadAllBytes(path);
        bytes[position >= 0 ? position : bytes.Length + position] ^= 0x01;
        File.WriteAllBytes(path, bytes);

        var exception = Assert.Throws<CheckpointCorruptException>(() => CheckpointFile.Load(path));

        Assert.That(exception!.Message, Does.Contain(path).And.Contain(expected));
        Assert.That(exception.Path, Is.EqualTo(path));
    }

    [Test]
    public void WrongMagicSaysFoundAndExpected()
    {
        string path = _scratch.File("model.ckpt");
        CheckpointFile.Save(path, CheckpointSamples.Create());
        byte[] bytes = File.ReadAllBytes(path);
        "NOTACKPT"u8.CopyTo(bytes);
        File.WriteAllBytes(path, bytes);

        var exception = Assert.Throws<CheckpointCorruptException>(() => CheckpointFile.Load(path));

        Assert.That(exception!.Message, Does.Contain("found \"NOTACKPT\"").And.Contain("expected \"ENGCKPT\\0\""));
    }

    [Test]
    public void EveryTruncationIsACorruptErrorNeverEndOfStream()
    {
        string path = _scratch.File("model.ckpt");
        CheckpointFile.Save(path, CheckpointSamples.Create());
        byte[] original = File.ReadAllBytes(path);
        string truncated = _scratch.File("truncated.ckpt");

        for (int length = 0; length < original.Length; length++)
        {
            File.WriteAllBytes(truncated, original[..length]);

            var exception = Assert.Throws<CheckpointCorruptException>(() => CheckpointFile.Load(truncated), $"length {length}");
            Assert.That(exception!.Message, Does.Contain("truncated"), $"length {length}");
        }
    }

    [Test]
    public void TrailingBytesAreACorruptError()
    {
        string path = _scratch.File("model.ckpt");
        CheckpointFile.Save(path, CheckpointSamples.Create());
        File.AppendAllText(path, "extra");

        var exception = Assert.Throws<CheckpointCorruptException>(() => CheckpointFile.Load(path));

        Assert.That(exception!.Message, Does.Contain("5 unexpected bytes"));
    }

    [Test]
    public void NewerVersionIsRefusedNamingBothVersions()
    {
        string path = _scratch.File("model.ckpt");
        CheckpointFile.Save(path, CheckpointSamples.Create());
        byte[] bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), 2);
        WriteWithChecksum(path, bytes);

        var exception = Assert.Throws<CheckpointVersionException>(() => CheckpointFile.Load(path));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exception!.Message, Does.Contain("format version 2").And.Contain("versions up to 1").And.Contain(path));
            Assert.That(exception.FoundVersion, Is.EqualTo(2u));
            Assert.That(exception.SupportedVersion, Is.EqualTo(CheckpointFile.CurrentVersion));
        }
    }

    [Test]
    public void HugeStringLengthWithAValidChecksumIsRefusedWithoutAllocating()
    {
        string path = _scratch.File("model.ckpt");
        CheckpointFile.Save(path, CheckpointSamples.Create());
        byte[] bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(24), 0xFFFF_FFF0); // the architecture's byte count
        WriteWithChecksum(path, bytes);

        AssertRefusedWithoutLargeAllocation(path, "architecture length");
    }

    [TestCase(4, 0x7FFF_FFFFu, "rank")]               // rank of conv2d/kernel
    [TestCase(8, 0x7FFF_FFFFu, "more than")]          // first dimension of conv2d/kernel
    [TestCase(8, 0xFFFF_FFFFu, "dimension -1")]       // a negative dimension
    [TestCase(8, 4u, "payload")]                      // plausible but disagrees with the payload size
    [TestCase(-4, 0x0FFF_FFFFu, "parameter count")]   // the parameter count
    public void CorruptTensorTableWithAValidChecksumIsRefusedWithoutAllocating(int offsetFromName, uint value, string expected)
    {
        string path = _scratch.File("model.ckpt");
        CheckpointFile.Save(path, CheckpointSamples.Create());
        byte[] bytes = File.ReadAllBytes(path);
        byte[] name = Encoding.UTF8.GetBytes("conv2d/kernel");
        int nameStart = bytes.AsSpan().IndexOf(name);
        // Layout around the name: [parameter count][name length][name][rank][dimensions...]
        int offset = offsetFromName switch
        {
            < 0 => nameStart - 4 + offsetFromName,
            _ => nameStart + name.Length + offsetFromName - 4,
        };
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(offset), value);
        WriteWithChecksum(path, bytes);

        AssertRefusedWithoutLargeAllocation(path, expected);
    }

    [Test]
    public void MissingFileIsFileNotFound()
    {
        Assert.Throws<FileNotFoundException>(() => CheckpointFile.Load(_scratch.File("absent.ckpt")));
    }

    [Test]
    public void ValidateAgainstListsEveryDifferenceInOneException()
    {
        CheckpointContents contents = CheckpointSamples.Create(architecture: "small");
        (string Name, Shape Shape)[] expected =
        [
            ("conv2d/kernel", new Shape(3, 3, 1, 8)),   // differs
            ("conv2d/bias", new Shape(4)),              // same
            ("dense_1/kernel", new Shape(5, 3)),        // missing from the checkpoint
            ("dense/bias", new Shape(2)),               // differs
        ];                                              // dense/kernel is unexpected

        var exception = Assert.Throws<CheckpointMismatchException>(
            () => CheckpointFile.ValidateAgainst(contents, expected, expectedArchitecture: "large"));

        Assert.That(exception!.Differences, Is.EqualTo(new[]
        {
            "architecture differs: expected \"large\", found \"small\"",
            "parameter conv2d/kernel: expected shape [3, 3, 1, 8], found [3, 3, 1, 4]",
            "parameter dense_1/kernel: expected shape [5, 3], missing from the checkpoint",
            "parameter dense/bias: expected shape [2], found [3]",
            "parameter dense/kernel: unexpected, found shape [5, 3] in the checkpoint but the model has no such parameter",
        }));
        foreach (string difference in exception.Differences)
        {
            Assert.That(exception.Message, Does.Contain(difference));
        }
        Assert.That(exception.Message, Does.StartWith("The checkpoint does not match the model (5 differences):"));
    }

    [Test]
    public void ValidateAgainstComparesOptimizerSlotsWhenGiven()
    {
        CheckpointContents contents = CheckpointSamples.Create();
        var parameters = contents.Parameters.Select(tensor => (tensor.Name, tensor.Value.Shape)).ToList();
        var slots = contents.OptimizerSlots.Where(slot => slot.Name.EndsWith("/m", StringComparison.Ordinal))
            .Select(slot => (slot.Name, slot.Value.Shape)).ToList();

        var exception = Assert.Throws<CheckpointMismatchException>(() => CheckpointFile.ValidateAgainst(contents, parameters, slots));

        Assert.That(exception!.Differences, Has.Count.EqualTo(4));
        Assert.That(exception.Differences, Has.All.StartWith("optimizer slot ").And.All.Contain("/v: unexpected"));
    }

    [Test]
    public void ValidateAgainstAcceptsAMatchingModelInAnyOrder()
    {
        CheckpointContents contents = CheckpointSamples.Create();
        var expected = contents.Parameters.Select(tensor => (tensor.Name, tensor.Value.Shape)).Reverse().ToList();

        Assert.DoesNotThrow(() => CheckpointFile.ValidateAgainst(contents, expected, expectedArchitecture: contents.Architecture));
    }

    [Test]
    public void MultiLineArchitectureDifferenceNamesTheFirstDifferingLine()
    {
        CheckpointContents contents = CheckpointSamples.Create(architecture: "Model\nconv2d (Conv2D) [26, 26, 32]\ndense (Dense) [10]");

        var exception = Assert.Throws<CheckpointMismatchException>(() => CheckpointFile.ValidateAgainst(
            contents,
            contents.Parameters.Select(tensor => (tensor.Name, tensor.Value.Shape)).ToList(),
            expectedArchitecture: "Model\nconv2d (Conv2D) [26, 26, 64]\ndense (Dense) [10]"));

        Assert.That(exception!.Differences, Is.EqualTo(new[]
        {
            "architecture differs at line 2: expected \"conv2d (Conv2D) [26, 26, 64]\", found \"conv2d (Conv2D) [26, 26, 32]\"",
        }));
    }

    [Test]
    public void LoadIntoCopiesParametersAndSlots()
    {
        CheckpointContents saved = CheckpointSamples.Create();
        string path = _scratch.File("model.ckpt");
        CheckpointFile.Save(path, saved);
        var parameters = saved.Parameters.Select(tensor => new Parameter(tensor.Name, new Tensor(tensor.Value.Shape))).ToList();
        var slots = saved.OptimizerSlots.Select(slot => new NamedTensor(slot.Name, new Tensor(slot.Value.Shape))).ToList();

        CheckpointContents loaded = CheckpointFile.LoadInto(path, parameters, slots, saved.Architecture);

        Assert.That(loaded.Epoch, Is.EqualTo(saved.Epoch));
        for (int index = 0; index < parameters.Count; index++)
        {
            Assert.That(CheckpointSamples.Bits(parameters[index].Value), Is.EqualTo(CheckpointSamples.Bits(saved.Parameters[index].Value)));
        }
        for (int index = 0; index < slots.Count; index++)
        {
            Assert.That(CheckpointSamples.Bits(slots[index].Value), Is.EqualTo(CheckpointSamples.Bits(saved.OptimizerSlots[index].Value)));
        }
    }

    [Test]
    public void LoadIntoAMismatchedModelNamesTheFileAndChangesNothing()
    {
        string path = _scratch.File("model.ckpt");
        CheckpointFile.Save(path, CheckpointSamples.Create());
        var kernel = new Parameter("conv2d/kernel", new Tensor(3, 3, 1, 4));
        var bias = new Parameter("conv2d/bias", new Tensor(5));

        var exception = Assert.Throws<CheckpointMismatchException>(() => CheckpointFile.LoadInto(path, [kernel, bias]));

        Assert.That(exception!.Message, Does.StartWith($"Checkpoint '{path}' does not match the model (3 differences)"));
        Assert.That(exception.Message, Does.Contain("conv2d/bias: expected shape [5], found [4]"));
        Assert.That(kernel.Value.ReadOnlySpan.ToArray(), Has.All.EqualTo(0f));
    }

    private static void WriteWithChecksum(string path, byte[] bytes)
    {
        SHA256.HashData(bytes.AsSpan(0, bytes.Length - 32), bytes.AsSpan(bytes.Length - 32));
        File.WriteAllBytes(path, bytes);
    }

    private static void AssertRefusedWithoutLargeAllocation(string path, string expected)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var exception = Assert.Throws<CheckpointCorruptException>(() => CheckpointFile.Load(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.That(exception!.Message, Does.Contain(expected));
        Assert.That(allocated, Is.LessThan(4 << 20), "bytes allocated while refusing the file");
    }
}
