using System.IO.Compression;

using Engine.Data;

namespace Engine.Tests.Reliability;

/// <summary>
/// Mutation fuzzing of <see cref="IdxReader.Read(Stream, string)"/>: every input either loads exactly what its bytes say
/// or throws <see cref="InvalidDataException"/> with a message; never another exception, a hang or a large allocation.
/// Inputs: small arrays of every element type, plain (seekable and not) and gzip (mutated before or after compression).
/// The first inputs truncate every original at every length; the rest are random mutations. See docs/reliability.md.
/// </summary>
[NonParallelizable]
public class IdxReaderFuzzTests
{
    private const string Source = "input";

    /// <summary>What the reader may allocate beyond a multiple of the bytes it sees: its 1 MiB first chunk for unknown lengths, gzip's buffers.</summary>
    private const long AllocationAllowance = (1 << 20) + (256 << 10);
    private const int AllocationFactor = 8;

    private sealed record Original(IdxArray Array, byte[] Plain, byte[] Gzip, HeaderField[] Fields);

    private static readonly Original[] Originals =
    [
        Make(IdxArray.Create(Enumerable.Range(0, 24).Select(value => (byte)(value * 7)).ToArray(), 2, 3, 4)),
        Make(IdxArray.Create(Enumerable.Range(0, 15).Select(value => value * 0.25f - 1).ToArray(), 3, 5)),
        Make(IdxArray.Create(new short[] { -32768, -1, 0, 1, 32767, 1234, -4321 }, 7)),
        Make(IdxArray.Create(new double[] { 0, -0.0, double.NaN, 1e300, -1, 2, 3, double.Epsilon }, 2, 2, 2)),
        Make(IdxArray.Create(new int[] { int.MinValue, int.MaxValue }, 1, 1, 1, 2)),
        Make(IdxArray.Create(new sbyte[] { -128, -1, 0, 1, 127 }, 5)),
    ];

    [Test]
    public void EveryInputLoadsWhatItSaysOrThrowsInvalidData()
    {
        FuzzBudget budget = FuzzBudget.FromEnvironment(defaultSeconds: 20);
        var truncations = new List<(byte[] Bytes, bool Seekable, byte[] Expected, Original Original, string Description)>();
        foreach (Original original in Originals)
        {
            for (int length = 0; length < original.Plain.Length; length++)
            {
                truncations.Add((original.Plain[..length], true, original.Plain[..length], original, $"{original.Array} plain cut at {length}"));
                truncations.Add((original.Plain[..length], false, original.Plain[..length], original, $"{original.Array} plain non-seekable cut at {length}"));
            }
            for (int length = 0; length < original.Gzip.Length; length++)
            {
                truncations.Add((original.Gzip[..length], true, original.Plain, original, $"{original.Array} gzip cut at {length}"));
                truncations.Add((original.Gzip[..length], false, original.Plain, original, $"{original.Array} gzip non-seekable cut at {length}"));
            }
        }

        FuzzTally tally = FuzzRunner.Run("IdxReader fuzz", budget, TimeSpan.FromSeconds(10), (index, tally) =>
        {
            if (index < truncations.Count)
            {
                var (bytes, seekable, expected, cut, description) = truncations[(int)index];
                return Check(bytes, seekable, expected, cut.Plain, gzipInput: bytes.Length >= 2 && bytes[0] == 0x1F, description, tally);
            }
            var random = new FuzzRandom(budget.Seed, index);
            Original original = random.Pick(Originals);
            int variant = random.Next(5);
            if (variant <= 2)
            {
                (byte[] plain, string mutation) = Mutator.Mutate(original.Plain, original.Fields, ref random);
                byte[] bytes = variant == 2 ? Compress(plain) : plain;
                return Check(bytes, seekable: variant != 1, expected: plain, original.Plain, gzipInput: variant == 2, $"{original.Array} plain {Variant(variant)}: {mutation}", tally);
            }
            (byte[] gzip, string gzipMutation) = Mutator.Mutate(original.Gzip, [], ref random);
            return Check(gzip, seekable: variant == 3, expected: original.Plain, original.Plain, gzipInput: true, $"{original.Array} gzip {Variant(variant)}: {gzipMutation}", tally);
        });
        Assert.That(tally.Inputs, Is.GreaterThan(truncations.Count), "the budget covers the truncations and some random mutations");
    }

    private static string Variant(int variant) => variant switch
    {
        0 => "seekable",
        1 => "non-seekable",
        2 => "mutated then gzipped",
        3 => "gzip mutated, seekable",
        _ => "gzip mutated, non-seekable",
    };

    /// <summary>Reads <paramref name="bytes"/> and checks the contract; <paramref name="expected"/> is the plain IDX a successful read must re-encode to.</summary>
    private static string Check(byte[] bytes, bool seekable, byte[] expected, byte[] original, bool gzipInput, string description, FuzzTally tally)
    {
        using Stream stream = seekable ? new MemoryStream(bytes, writable: false) : new NonSeekableStream(bytes);
        Attempt<IdxArray> attempt = FuzzRunner.Measure(() => IdxReader.Read(stream, Source));
        tally.MaxAllocatedBytes = Math.Max(tally.MaxAllocatedBytes, attempt.AllocatedBytes);
        long seen = bytes.Length + (gzipInput && attempt.AllocatedBytes > AllocationAllowance ? DecompressedLength(bytes) : 0);
        if (attempt.AllocatedBytes > AllocationAllowance + AllocationFactor * seen)
        {
            throw new FuzzViolation($"allocated {attempt.AllocatedBytes:N0} bytes for {bytes.Length} input bytes ({seen} with decompression): {description}");
        }
        if (attempt.Error is { } error)
        {
            return FuzzRunner.Rejection(error, exception => exception is InvalidDataException, FieldOf, description);
        }
        byte[] encoded = Encode(attempt.Result!);
        if (!encoded.AsSpan().SequenceEqual(expected))
        {
            if (!seekable && gzipInput && IsCutInGzipTrailer(bytes))
            {
                // Documented in IdxReader: without seeking, the trailer (CRC-32, ISIZE) of a stream cut inside it cannot be checked.
                return "loaded: other data (non-seekable gzip cut inside its trailer, CRC unchecked)";
            }
            throw new FuzzViolation($"loaded {attempt.Result} whose IDX encoding ({encoded.Length} bytes) differs from the input's ({expected.Length} bytes): {description}; bytes {Convert.ToHexString(bytes)}; seekable: {SeekableOutcome(bytes)}");
        }
        return encoded.AsSpan().SequenceEqual(original) ? "loaded: the original data" : "loaded: the mutated data, exactly";
    }

    private static string SeekableOutcome(byte[] bytes)
    {
        try
        {
            return IdxReader.Read(new MemoryStream(bytes, writable: false), Source).ToString();
        }
        catch (Exception error)
        {
            return error.Message;
        }
    }

    /// <summary>Whether the seekable reader, which checks the gzip trailer, refuses <paramref name="bytes"/> for their trailer.</summary>
    private static bool IsCutInGzipTrailer(byte[] bytes)
    {
        try
        {
            IdxReader.Read(new MemoryStream(bytes, writable: false), Source);
            return false;
        }
        catch (InvalidDataException error)
        {
            return error.Message.Contains("gzip trailer", StringComparison.Ordinal);
        }
    }

    /// <summary>The field an IdxReader message names: "input (gzip): dimension 0: found ..." gives "dimension 0".</summary>
    private static string FieldOf(Exception error)
    {
        string message = error.Message;
        int start = message.IndexOf(": ", StringComparison.Ordinal);
        int end = start < 0 ? -1 : message.IndexOf(':', start + 2);
        return start < 0 || end < 0 ? message : message[(start + 2)..end];
    }

    private static Original Make(IdxArray array)
    {
        byte[] plain = Encode(array);
        var fields = new List<HeaderField> { new(0, FieldEncoding.Int32BigEndian) };
        for (int axis = 0; axis < array.Rank; axis++)
        {
            fields.Add(new HeaderField(4 + 4 * axis, FieldEncoding.Int32BigEndian));
        }
        return new Original(array, plain, Compress(plain), fields.ToArray());
    }

    private static byte[] Encode(IdxArray array)
    {
        using var stream = new MemoryStream();
        IdxWriter.Write(array, stream);
        return stream.ToArray();
    }

    private static byte[] Compress(byte[] plain)
    {
        using var stream = new MemoryStream();
        using (var gzip = new GZipStream(stream, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(plain);
        }
        return stream.ToArray();
    }

    /// <summary>How many bytes <paramref name="gzip"/> decompresses to (up to 64 MiB), or 0 when it is not valid gzip.</summary>
    private static long DecompressedLength(byte[] gzip)
    {
        try
        {
            using var stream = new GZipStream(new MemoryStream(gzip), CompressionMode.Decompress);
            var buffer = new byte[1 << 16];
            long total = 0;
            int read;
            while (total < (64 << 20) && (read = stream.Read(buffer)) > 0)
            {
                total += read;
            }
            return total;
        }
        catch (InvalidDataException)
        {
            return 0;
        }
    }
}
