using System.Buffers.Binary;
using System.Security.Cryptography;

using Engine.Checkpoint;
using Engine.Tests.Checkpoint;

namespace Engine.Tests.Reliability;

/// <summary>
/// Mutation fuzzing of <see cref="CheckpointFile.Load(string)"/>: every input either loads or throws a
/// <see cref="CheckpointException"/> subclass with a message; never another exception, a hang or a large allocation.
/// Half the inputs are "resealed" after mutation (length field and SHA-256 recomputed), so the mutation reaches the
/// field parser behind the checksum instead of stopping at it. A raw mutation that loads must be a no-op (same bytes);
/// a resealed one that loads must save and load again to the same contents. The first inputs truncate the sample at
/// every length, raw and resealed. See docs/reliability.md.
/// </summary>
[NonParallelizable]
public class CheckpointFuzzTests
{
    /// <summary>Load's own overhead (two 64 KiB file buffers, hashing) beyond a multiple of the file's length.</summary>
    private const long AllocationAllowance = 256 << 10;
    private const int AllocationFactor = 8;
    private const int ChecksumLength = 32;
    private const int HeaderLength = 24;

    [Test]
    public void EveryInputLoadsOrThrowsACheckpointException()
    {
        FuzzBudget budget = FuzzBudget.FromEnvironment(defaultSeconds: 20);
        string directory = Path.Combine(Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath(), "engine-fuzz-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            string input = Path.Combine(directory, "input.ckpt");
            string resaved = Path.Combine(directory, "resaved.ckpt");
            CheckpointFile.Save(input, CheckpointSamples.Create());
            byte[] original = File.ReadAllBytes(input);
            HeaderField[] fields = FindFields(original);

            FuzzTally tally = FuzzRunner.Run("CheckpointFile fuzz", budget, TimeSpan.FromSeconds(10), (index, tally) =>
            {
                byte[] bytes;
                string description;
                bool reseal;
                if (index < 2 * (original.Length + 1))
                {
                    int length = (int)(index / 2);
                    reseal = index % 2 == 1;
                    bytes = original[..Math.Min(length, original.Length)];
                    description = $"cut at {length}";
                }
                else
                {
                    var random = new FuzzRandom(budget.Seed, index);
                    reseal = random.Chance(50);
                    (bytes, description) = Mutator.Mutate(original, fields, ref random);
                }
                if (reseal)
                {
                    Reseal(bytes);
                    description += ", resealed";
                }
                return Check(bytes, original, input, resaved, description, tally);
            });
            Assert.That(tally.Inputs, Is.GreaterThan(2 * (original.Length + 1)), "the budget covers the truncations and some random mutations");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static string Check(byte[] bytes, byte[] original, string input, string resaved, string description, FuzzTally tally)
    {
        File.WriteAllBytes(input, bytes);
        Attempt<CheckpointContents> attempt = FuzzRunner.Measure(() => CheckpointFile.Load(input));
        tally.MaxAllocatedBytes = Math.Max(tally.MaxAllocatedBytes, attempt.AllocatedBytes);
        if (attempt.AllocatedBytes > AllocationAllowance + AllocationFactor * (long)bytes.Length)
        {
            throw new FuzzViolation($"allocated {attempt.AllocatedBytes:N0} bytes for a {bytes.Length}-byte file: {description}");
        }
        if (attempt.Error is { } error)
        {
            return FuzzRunner.Rejection(error, exception => exception is CheckpointException, ProblemOf, description);
        }
        if (bytes.AsSpan().SequenceEqual(original))
        {
            return "loaded: the original";
        }
        if (!description.EndsWith("resealed", StringComparison.Ordinal))
        {
            throw new FuzzViolation($"a mutated file with its original checksum loaded: {description}");
        }
        // A resealed mutation of a payload float or a string is a valid checkpoint: it must survive a save and a load.
        try
        {
            CheckpointFile.Save(resaved, attempt.Result!);
            byte[] first = File.ReadAllBytes(resaved);
            CheckpointFile.Save(resaved, CheckpointFile.Load(resaved));
            if (!first.AsSpan().SequenceEqual(File.ReadAllBytes(resaved)))
            {
                throw new FuzzViolation($"loaded contents that do not survive save + load unchanged: {description}");
            }
            return first.AsSpan().SequenceEqual(bytes) ? "loaded: resealed mutation, re-saves byte-identical" : "loaded: resealed mutation, re-saves canonically (e.g. key order)";
        }
        catch (ArgumentException exception)
        {
            throw new FuzzViolation($"loaded contents that Save refuses ({exception.Message}): {description}");
        }
    }

    /// <summary>The problem a checkpoint message names, without the path.</summary>
    private static string ProblemOf(Exception error) => error switch
    {
        CheckpointCorruptException corrupt => corrupt.Problem,
        CheckpointVersionException => "newer version",
        _ => error.Message,
    };

    /// <summary>Makes a mutated file self-consistent again: its length field and SHA-256 match its bytes.</summary>
    private static void Reseal(byte[] bytes)
    {
        if (bytes.Length < HeaderLength + ChecksumLength)
        {
            return;
        }
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(16), (ulong)bytes.Length);
        SHA256.HashData(bytes.AsSpan(0, bytes.Length - ChecksumLength), bytes.AsSpan(bytes.Length - ChecksumLength));
    }

    /// <summary>
    /// The header's integer fields (version, flags, both halves of the length) and every 4-byte position of the body
    /// holding a small little-endian value (1 to 4096): the string lengths, counts, ranks and dimensions.
    /// </summary>
    private static HeaderField[] FindFields(byte[] original)
    {
        var fields = new List<HeaderField>
        {
            new(8, FieldEncoding.UInt32LittleEndian),
            new(12, FieldEncoding.UInt32LittleEndian),
            new(16, FieldEncoding.UInt32LittleEndian),
            new(20, FieldEncoding.UInt32LittleEndian),
        };
        for (int offset = HeaderLength; offset + 4 <= original.Length - ChecksumLength; offset++)
        {
            uint value = BinaryPrimitives.ReadUInt32LittleEndian(original.AsSpan(offset));
            if (value is >= 1 and <= 4096)
            {
                fields.Add(new HeaderField(offset, FieldEncoding.UInt32LittleEndian));
            }
        }
        return fields.ToArray();
    }
}

/// <summary>Hand-made files the random mutations rarely reach: what Load accepts, Save must accept too.</summary>
public class CheckpointLoadSaveAgreementTests
{
    /// <summary>Replaces the length-prefixed string <paramref name="text"/> with an empty one and reseals the file.</summary>
    private static byte[] EmptyString(byte[] original, string text)
    {
        byte[] encoded = [.. BitConverter.GetBytes((uint)text.Length), .. System.Text.Encoding.UTF8.GetBytes(text)];
        int offset = original.AsSpan().IndexOf(encoded);
        Assert.That(offset, Is.GreaterThan(0), text);
        byte[] bytes = [.. original[..offset], 0, 0, 0, 0, .. original[(offset + encoded.Length)..]];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(16), (ulong)bytes.Length);
        SHA256.HashData(bytes.AsSpan(0, bytes.Length - 32), bytes.AsSpan(bytes.Length - 32));
        return bytes;
    }

    [TestCase("batch_size", TestName = "EmptyMetadataKey")]
    [TestCase("shuffle", TestName = "EmptyRandomStateName")]
    public void AnEmptyNameIsCorrupt(string name)
    {
        string path = Path.Combine(Path.GetTempPath(), $"engine-empty-name-{Guid.NewGuid():N}.ckpt");
        try
        {
            CheckpointFile.Save(path, CheckpointSamples.Create());
            File.WriteAllBytes(path, EmptyString(File.ReadAllBytes(path), name));
            var error = Assert.Throws<CheckpointCorruptException>(() => CheckpointFile.Load(path));
            Assert.That(error!.Problem, Does.Contain("empty"));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
