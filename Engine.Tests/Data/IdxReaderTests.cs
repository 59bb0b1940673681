using System.Buffers.Binary;
using System.IO.Compression;
using Engine.Data;

namespace Engine.Tests.Data;

public sealed class IdxReaderTests
{
    private string _directory = "";

    [SetUp]
    public void CreateDirectory()
    {
        _directory = Path.Combine(Path.GetTempPath(), "idx-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
    }

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    private static IEnumerable<TestCaseData> RoundTripCases()
    {
        foreach (IdxElementType type in Enum.GetValues<IdxElementType>())
        {
            for (int rank = 1; rank <= 4; rank++)
            {
                foreach (IdxCompression compression in Enum.GetValues<IdxCompression>())
                {
                    yield return new TestCaseData(type, rank, compression);
                }
            }
        }
    }

    [TestCaseSource(nameof(RoundTripCases))]
    public void WriteThenRead_GivesTheSameTypeDimensionsAndValues(IdxElementType type, int rank, IdxCompression compression)
    {
        int[] dimensions = new[] { 3, 2, 5, 4 }[..rank];
        IdxArray written = RandomArray(type, dimensions, seed: (ulong)(rank * 100 + (int)type));
        string path = Path.Combine(_directory, $"array-{type}-{rank}.idx");
        IdxWriter.Write(written, path, compression);

        IdxArray read = IdxReader.Read(path);

        Assert.That(read.ElementType, Is.EqualTo(type));
        Assert.That(read.Dimensions.ToArray(), Is.EqualTo(dimensions));
        Assert.That(read.Count, Is.EqualTo(written.Count));
        AssertSameValues(read, written);
    }

    [Test]
    public void Read_DecodesBigEndianElementsOfEveryType()
    {
        // Hand-written bytes, independent of the writer.
        AssertReads([0, 0, 0x08, 1, 0, 0, 0, 2, 0x01, 0xFF], IdxElementType.UnsignedByte, [2], array => array.GetValues<byte>().ToArray(), new byte[] { 1, 255 });
        AssertReads([0, 0, 0x09, 1, 0, 0, 0, 2, 0x01, 0xFF], IdxElementType.SignedByte, [2], array => array.GetValues<sbyte>().ToArray(), new sbyte[] { 1, -1 });
        AssertReads([0, 0, 0x0B, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE], IdxElementType.Int16, [2], array => array.GetValues<short>().ToArray(), new short[] { 0x0102, -2 });
        AssertReads([0, 0, 0x0C, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0x01, 0x02, 0x03, 0x04], IdxElementType.Int32, [1, 1], array => array.GetValues<int>().ToArray(), new[] { 0x01020304 });
        AssertReads([0, 0, 0x0D, 1, 0, 0, 0, 1, 0x3F, 0xC0, 0x00, 0x00], IdxElementType.Single, [1], array => array.GetValues<float>().ToArray(), new[] { 1.5f });
        AssertReads([0, 0, 0x0E, 1, 0, 0, 0, 1, 0xC0, 0x04, 0, 0, 0, 0, 0, 0], IdxElementType.Double, [1], array => array.GetValues<double>().ToArray(), new[] { -2.5 });
    }

    [Test]
    public void Read_DetectsGzipByContentNotByFileName()
    {
        IdxArray array = RandomArray(IdxElementType.UnsignedByte, [10, 3], seed: 1);
        string gzipWithoutExtension = Path.Combine(_directory, "compressed-idx3-ubyte");
        string plainWithGzipExtension = Path.Combine(_directory, "plain-idx3-ubyte.gz");
        IdxWriter.Write(array, gzipWithoutExtension, IdxCompression.Gzip);
        IdxWriter.Write(array, plainWithGzipExtension, IdxCompression.None);

        Assert.That(File.ReadAllBytes(gzipWithoutExtension)[..2], Is.EqualTo(new byte[] { 0x1F, 0x8B }));
        AssertSameValues(IdxReader.Read(gzipWithoutExtension), array);
        AssertSameValues(IdxReader.Read(plainWithGzipExtension), array);
    }

    [TestCase(IdxCompression.None)]
    [TestCase(IdxCompression.Gzip)]
    public void Read_AcceptsNonSeekableStreams(IdxCompression compression)
    {
        IdxArray array = RandomArray(IdxElementType.Single, [7, 5], seed: 2);
        var buffer = new MemoryStream();
        IdxWriter.Write(array, buffer, compression);

        IdxArray read = IdxReader.Read(new ForwardOnlyStream(buffer.ToArray()), "pipe");

        AssertSameValues(read, array);
    }

    [Test]
    public void Read_LargeGzipArrayAcrossManyChunks()
    {
        // 2 MB of data: larger than the reader's first chunk, so the buffer grows several times.
        IdxArray array = RandomArray(IdxElementType.Int16, [1024, 1024], seed: 3);
        string path = Path.Combine(_directory, "large.idx.gz");
        IdxWriter.Write(array, path, IdxCompression.Gzip);

        AssertSameValues(IdxReader.Read(path), array);
    }

    [Test]
    public void Read_RejectsWrongMagic()
    {
        string path = WriteBytes("bad-magic", [0x12, 0x34, 0x08, 1, 0, 0, 0, 1, 0]);

        var exception = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path))!;

        Assert.That(exception.Message, Does.Contain(path).And.Contain("magic").And.Contain("0x12 0x34").And.Contain("0x00 0x00"));
    }

    [Test]
    public void Read_RejectsUnknownElementType()
    {
        string path = WriteBytes("bad-type", [0, 0, 0x0A, 1, 0, 0, 0, 1, 0]);

        var exception = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path))!;

        Assert.That(exception.Message, Does.Contain(path).And.Contain("element type").And.Contain("0x0A").And.Contain("0x08 (uint8)"));
    }

    [Test]
    public void Read_RejectsRankZero()
    {
        string path = WriteBytes("rank-zero", [0, 0, 0x08, 0, 7]);

        var exception = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path))!;

        Assert.That(exception.Message, Does.Contain(path).And.Contain("rank").And.Contain("found 0").And.Contain("expected 1 to 255"));
    }

    [TestCase(0)]
    [TestCase(-3)]
    public void Read_RejectsNonPositiveDimension(int dimension)
    {
        string path = WriteBytes("bad-dimension", [.. Header(0x08, 4, dimension), 1, 2, 3, 4]);

        var exception = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path))!;

        Assert.That(exception.Message, Does.Contain(path).And.Contain("dimension 1").And.Contain($"found {dimension}").And.Contain("expected a positive size"));
    }

    [Test]
    public void Read_RejectsDimensionsWhoseProductOverflows()
    {
        string path = WriteBytes("overflow", [.. Header(0x0E, 65536, 65536, 65536), 1, 2, 3]);

        var exception = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path))!;

        Assert.That(exception.Message, Does.Contain(path).And.Contain("dimensions").And.Contain("[65536, 65536, 65536]")
            .And.Contain("281474976710656 elements").And.Contain($"at most {Array.MaxLength} bytes"));
    }

    [Test]
    public void Read_RejectsTruncatedHeader()
    {
        string path = WriteBytes("short-header", [0, 0, 0x08, 3, 0, 0, 0, 5, 0, 0]);

        var exception = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path))!;

        Assert.That(exception.Message, Does.Contain(path).And.Contain("dimensions").And.Contain("found 6 bytes").And.Contain("expected 12"));
    }

    [TestCase(IdxCompression.None)]
    [TestCase(IdxCompression.Gzip)]
    public void Read_RejectsFileShorterThanItsHeader(IdxCompression compression)
    {
        byte[] content = [.. Header(0x0C, 2, 3), .. new byte[4 * 6 - 5]];
        string path = WriteBytes("short", Compress(content, compression));

        var exception = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path))!;

        Assert.That(exception.Message, Does.Contain(path).And.Contain("data length").And.Contain("found 19 bytes")
            .And.Contain("6 elements × 4 bytes = 24 bytes").And.Contain("shorter"));
    }

    [TestCase(IdxCompression.None)]
    [TestCase(IdxCompression.Gzip)]
    public void Read_RejectsFileLongerThanItsHeader(IdxCompression compression)
    {
        byte[] content = [.. Header(0x0B, 5), .. new byte[2 * 5 + 3]];
        string path = WriteBytes("long", Compress(content, compression));

        var exception = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path))!;

        Assert.That(exception.Message, Does.Contain(path).And.Contain("data length").And.Contain("found 13 bytes")
            .And.Contain("5 elements × 2 bytes = 10 bytes").And.Contain("longer"));
    }

    [TestCase(IdxCompression.None)]
    [TestCase(IdxCompression.Gzip)]
    public void Read_HugeDeclaredSizeInTinyFile_FailsWithoutAllocatingIt(IdxCompression compression)
    {
        // Declares 2^28 floats (1 GiB) but holds 4 bytes.
        string path = WriteBytes("huge", Compress([.. Header(0x0D, 1 << 14, 1 << 14), 1, 2, 3, 4], compression));

        long before = GC.GetAllocatedBytesForCurrentThread();
        var exception = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path))!;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.That(exception.Message, Does.Contain("found 4 bytes").And.Contain("1073741824 bytes"));
        Assert.That(allocated, Is.LessThan(8L << 20), "bytes allocated while rejecting a file that declares 1 GiB");
    }

    [Test]
    public void Read_GzipFile_DecompressesIntoOneArrayOfTheDeclaredSize()
    {
        // MNIST's training images: 47,040,000 bytes of data. Growing a buffer by doubling would allocate about twice that.
        string path = Path.Combine(TestPaths.MnistDirectory, "train-images-idx3-ubyte.gz");
        IdxReader.Read(Path.Combine(TestPaths.MnistDirectory, "t10k-labels-idx1-ubyte.gz")); // warm up the reader's code paths

        long before = GC.GetAllocatedBytesForCurrentThread();
        IdxArray images = IdxReader.Read(path);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.That(images.Count, Is.EqualTo(47_040_000));
        Assert.That(allocated, Is.LessThan(47_040_000 + (1L << 20)), "bytes allocated while reading 47,040,000 bytes of data");
    }

    [Test]
    public void Read_GzipWhoseTrailerVouchesForMissingData_StillFails()
    {
        // The data stops 5 bytes early, but the trailer's ISIZE is forged to the length the header declares
        // (the decoder itself then rejects the trailer, or the reader finds the data short).
        byte[] content = [.. Header(0x0C, 2, 3), .. new byte[4 * 6 - 5]];
        byte[] gzip = Compress(content, IdxCompression.Gzip);
        BinaryPrimitives.WriteUInt32LittleEndian(gzip.AsSpan(gzip.Length - 4), (uint)(content.Length + 5));
        string path = WriteBytes("forged-size.gz", gzip);

        var exception = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path))!;

        Assert.That(exception.Message, Does.Contain(path).And.Contain("gzip"));
        Assert.That(exception.Message, Does.Contain("shorter").Or.Contain("corrupt"));
    }

    [Test]
    public void Read_TinyGzipWhoseTrailerVouchesForAHugeSize_FailsWithoutAllocatingIt()
    {
        // Declares 2^28 floats (1 GiB) in a gzip file of a few dozen bytes whose trailer claims that size too:
        // deflate cannot expand a stream that much, so the reader still grows its buffer as data arrives (and the
        // decoder, or the reader, rejects the stream when it ends).
        byte[] content = [.. Header(0x0D, 1 << 14, 1 << 14), 1, 2, 3, 4];
        byte[] gzip = Compress(content, IdxCompression.Gzip);
        BinaryPrimitives.WriteUInt32LittleEndian(gzip.AsSpan(gzip.Length - 4), unchecked((uint)(12 + (1L << 30))));
        string path = WriteBytes("forged-huge.gz", gzip);

        long before = GC.GetAllocatedBytesForCurrentThread();
        var exception = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path))!;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.That(exception.Message, Does.Contain(path).And.Contain("gzip"));
        Assert.That(allocated, Is.LessThan(8L << 20), "bytes allocated while rejecting a file that declares 1 GiB");
    }

    [Test]
    public void Read_RejectsTruncatedGzip()
    {
        byte[] gzip = Compress([.. Header(0x08, 1000), .. RandomBytes(1000, seed: 4)], IdxCompression.Gzip);
        string path = WriteBytes("truncated.gz", gzip[..(gzip.Length / 2)]);

        var exception = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path))!;

        Assert.That(exception.Message, Does.Contain(path).And.Contain("gzip"));
        Assert.That(exception.Message, Does.Contain("shorter").Or.Contain("gzip stream"));
    }

    [Test]
    public void Read_RejectsCorruptedGzip()
    {
        byte[] gzip = Compress([.. Header(0x08, 1000), .. RandomBytes(1000, seed: 5)], IdxCompression.Gzip);
        for (int i = 20; i < gzip.Length - 20; i += 7)
        {
            gzip[i] ^= 0x5A;
        }
        string path = WriteBytes("corrupted.gz", gzip);

        var exception = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path))!;

        Assert.That(exception.Message, Does.Contain(path).And.Contain("gzip"));
    }

    [Test]
    public void Read_RejectsGzipWithDamagedChecksum()
    {
        byte[] gzip = Compress([.. Header(0x08, 1000), .. RandomBytes(1000, seed: 6)], IdxCompression.Gzip);
        gzip[^8] ^= 0xFF; // first byte of the CRC-32 trailer
        string path = WriteBytes("bad-crc.gz", gzip);

        var exception = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path))!;

        Assert.That(exception.Message, Does.Contain(path).And.Contain("gzip stream"));
    }

    [Test]
    public void Read_GzipCutAtEveryLength_AlwaysFailsWithInvalidData()
    {
        IdxArray array = RandomArray(IdxElementType.Int16, [20, 3], seed: 7);
        var buffer = new MemoryStream();
        IdxWriter.Write(array, buffer, IdxCompression.Gzip);
        byte[] gzip = buffer.ToArray();

        for (int length = 0; length < gzip.Length; length++)
        {
            byte[] prefix = gzip[..length];
            Exception? error = ReadWithin(TimeSpan.FromSeconds(10), () => IdxReader.Read(new MemoryStream(prefix), $"cut at {length}"));
            Assert.That(error, Is.TypeOf<InvalidDataException>(), $"gzip cut to {length} of {gzip.Length} bytes");
            Assert.That(error!.Message, Does.Contain($"cut at {length}"));
            if (length >= gzip.Length - 8)
            {
                Assert.That(error.Message, Does.Contain("gzip trailer"), "a cut inside the 8-byte trailer is caught by its length field");
            }
        }
    }

    [Test]
    public void Read_GzipWithRandomByteDamage_FailsWithInvalidDataOrReadsTheOriginal()
    {
        // Damage anywhere (header flags, deflate blocks, trailer) must end in the documented exception, never a hang,
        // another exception type or different values (a flipped header timestamp is harmless).
        IdxArray array = RandomArray(IdxElementType.UnsignedByte, [50, 4], seed: 8);
        var buffer = new MemoryStream();
        IdxWriter.Write(array, buffer, IdxCompression.Gzip);
        byte[] gzip = buffer.ToArray();
        var random = new RandomSource(9);
        int failures = 0;

        for (int trial = 0; trial < 300; trial++)
        {
            byte[] damaged = (byte[])gzip.Clone();
            int position = 2 + random.NextInt(damaged.Length - 2);
            damaged[position] ^= (byte)(1 + random.NextInt(255));
            IdxArray? read = null;
            Exception? error = ReadWithin(TimeSpan.FromSeconds(10), () => read = IdxReader.Read(new MemoryStream(damaged), "damaged"));
            if (error is null)
            {
                AssertSameValues(read!, array);
                continue;
            }
            failures++;
            Assert.That(error, Is.TypeOf<InvalidDataException>(), $"byte {position} damaged: {error}");
        }
        Assert.That(failures, Is.GreaterThan(200), "most damage is detected");
    }

    [Test]
    public void Read_GzipMagicFollowedByGarbage_FailsWithInvalidData()
    {
        byte[] garbage = RandomBytes(100_000, seed: 10);
        garbage[0] = 0x1F;
        garbage[1] = 0x8B;

        Exception? error = ReadWithin(TimeSpan.FromSeconds(10), () => IdxReader.Read(new MemoryStream(garbage), "garbage"));

        Assert.That(error, Is.TypeOf<InvalidDataException>());
        Assert.That(error!.Message, Does.Contain("garbage (gzip)"));
    }

    [Test]
    public void Read_RejectsEmptyFile()
    {
        string path = WriteBytes("empty", []);

        var exception = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path))!;

        Assert.That(exception.Message, Does.Contain(path).And.Contain("found 0 bytes").And.Contain("expected at least 4"));
    }

    /// <summary>Runs <paramref name="read"/> on another thread and returns what it threw (null if nothing); fails if it takes longer than <paramref name="limit"/>.</summary>
    private static Exception? ReadWithin(TimeSpan limit, Action read)
    {
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                read();
            }
            catch (Exception exception)
            {
                error = exception;
            }
        });
        thread.Start();
        Assert.That(thread.Join(limit), Is.True, $"the read finished within {limit.TotalSeconds} s");
        return error;
    }

    private string WriteBytes(string name, byte[] bytes)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] Header(byte elementType, params int[] dimensions)
    {
        byte[] header = new byte[4 + 4 * dimensions.Length];
        header[2] = elementType;
        header[3] = (byte)dimensions.Length;
        for (int axis = 0; axis < dimensions.Length; axis++)
        {
            BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * axis), dimensions[axis]);
        }
        return header;
    }

    private static byte[] Compress(byte[] content, IdxCompression compression)
    {
        if (compression == IdxCompression.None)
        {
            return content;
        }
        var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(content);
        }
        return buffer.ToArray();
    }

    private static byte[] RandomBytes(int count, ulong seed)
    {
        var random = new RandomSource(seed);
        byte[] bytes = new byte[count];
        for (int i = 0; i < count; i++)
        {
            bytes[i] = (byte)random.NextUInt64();
        }
        return bytes;
    }

    private static IdxArray RandomArray(IdxElementType type, int[] dimensions, ulong seed)
    {
        var random = new RandomSource(seed);
        int count = dimensions.Aggregate(1, (product, dimension) => product * dimension);
        ulong[] bits = new ulong[count];
        for (int i = 0; i < count; i++)
        {
            bits[i] = random.NextUInt64();
        }
        return type switch
        {
            IdxElementType.UnsignedByte => IdxArray.Create(bits.Select(b => (byte)b).ToArray(), dimensions),
            IdxElementType.SignedByte => IdxArray.Create(bits.Select(b => (sbyte)b).ToArray(), dimensions),
            IdxElementType.Int16 => IdxArray.Create(bits.Select(b => (short)b).ToArray(), dimensions),
            IdxElementType.Int32 => IdxArray.Create(bits.Select(b => (int)b).ToArray(), dimensions),
            IdxElementType.Single => IdxArray.Create(bits.Select(b => (float)(((long)b >> 20) * 1e-9)).ToArray(), dimensions),
            _ => IdxArray.Create(bits.Select(b => BitConverter.Int64BitsToDouble((long)(b >> 2))).ToArray(), dimensions),
        };
    }

    private static void AssertSameValues(IdxArray read, IdxArray written)
    {
        Assert.That(read.ElementType, Is.EqualTo(written.ElementType));
        Assert.That(read.Dimensions.ToArray(), Is.EqualTo(written.Dimensions.ToArray()));
        switch (written.ElementType)
        {
            case IdxElementType.UnsignedByte: Assert.That(read.GetValues<byte>().ToArray(), Is.EqualTo(written.GetValues<byte>().ToArray())); break;
            case IdxElementType.SignedByte: Assert.That(read.GetValues<sbyte>().ToArray(), Is.EqualTo(written.GetValues<sbyte>().ToArray())); break;
            case IdxElementType.Int16: Assert.That(read.GetValues<short>().ToArray(), Is.EqualTo(written.GetValues<short>().ToArray())); break;
            case IdxElementType.Int32: Assert.That(read.GetValues<int>().ToArray(), Is.EqualTo(written.GetValues<int>().ToArray())); break;
            case IdxElementType.Single:
                Assert.That(read.GetValues<float>().ToArray().Select(BitConverter.SingleToInt32Bits),
                    Is.EqualTo(written.GetValues<float>().ToArray().Select(BitConverter.SingleToInt32Bits)));
                break;
            case IdxElementType.Double:
                Assert.That(read.GetValues<double>().ToArray().Select(BitConverter.DoubleToInt64Bits),
                    Is.EqualTo(written.GetValues<double>().ToArray().Select(BitConverter.DoubleToInt64Bits)));
                break;
        }
    }

    private static void AssertReads<T>(byte[] bytes, IdxElementType type, int[] dimensions, Func<IdxArray, T[]> values, T[] expected)
    {
        IdxArray array = IdxReader.Read(new MemoryStream(bytes), $"hand-written {type}");
        Assert.That(array.ElementType, Is.EqualTo(type));
        Assert.That(array.Dimensions.ToArray(), Is.EqualTo(dimensions));
        Assert.That(values(array), Is.EqualTo(expected));
    }

    /// <summary>A stream that can only be read forward (like a pipe or a network body).</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes);

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 3));
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
