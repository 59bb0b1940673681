using System.Buffers.Binary;
using System.IO.Compression;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Engine.Data;

/// <summary>
/// Reads IDX files (http://yann.lecun.com/exdb/mnist/ format) of any element type and rank, plain or
/// gzip-compressed; compression is detected from the content (gzip magic 1F 8B), not the file name.
/// </summary>
/// <remarks>
/// Layout: two zero bytes, a type byte (<see cref="IdxElementType"/>), a rank byte, then one big-endian
/// int32 per dimension, then the elements in row-major order, big-endian. The reader checks the
/// header and that the data is exactly as long as the header declares. It allocates no more than the
/// declared size, and for a plain seekable file only after comparing it with the file's length. A seekable
/// gzip file whose trailer's ISIZE agrees with the header, and whose declared size deflate could reach from its
/// compressed length (at most 1032:1), is decompressed straight into one array of the declared size; any other
/// gzip stream is read in growing chunks, so a huge declared size in a tiny file fails before a large
/// allocation. Gzip input must be a single gzip member; for a seekable stream both trailer fields (CRC-32 and
/// length) are checked here, so a file cut or corrupted near its trailer is rejected too (for a non-seekable stream
/// they cannot be).
/// </remarks>
public static class IdxReader
{
    private const int InitialChunkBytes = 1 << 20;
    private const int ExtraBytesCounted = 1 << 20;

    /// <summary>The largest ratio of decompressed to compressed length that deflate can reach (258-byte matches of about 2 bits).</summary>
    private const long MaxDeflateRatio = 1032;

    /// <summary>Reads the IDX file at <paramref name="path"/> (plain or gzip).</summary>
    /// <exception cref="InvalidDataException">The file is malformed; the message names the file, the field, the value found and the value expected.</exception>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    public static IdxArray Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        return Read(file, path);
    }

    /// <summary>
    /// Reads an IDX array (plain or gzip) from <paramref name="stream"/>'s current position to its end.
    /// <paramref name="sourceName"/> names the stream in error messages (e.g. its file path).
    /// </summary>
    /// <exception cref="InvalidDataException">The content is malformed; the message names the source, the field, the value found and the value expected.</exception>
    public static IdxArray Read(Stream stream, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(sourceName);
        if (!stream.CanRead)
        {
            throw new ArgumentException($"The stream of {sourceName} must be readable.", nameof(stream));
        }

        long start = stream.CanSeek ? stream.Position : 0;
        byte[] prefix = new byte[2];
        int prefixLength = ReadAtMost(stream, prefix, sourceName);
        bool compressed = prefixLength == 2 && prefix[0] == 0x1F && prefix[1] == 0x8B;

        Stream content;
        if (stream.CanSeek)
        {
            stream.Position = start;
            content = stream;
        }
        else
        {
            content = new PrefixedStream(prefix.AsMemory(0, prefixLength), stream);
        }

        if (compressed)
        {
            IdxArray array;
            GzipSize? size = stream.CanSeek ? ReadGzipSize(stream, start) : null;
            using var gzip = new GZipStream(content, CompressionMode.Decompress, leaveOpen: true);
            using var decompressed = new Crc32Stream(gzip);
            array = ReadContent(decompressed, knownLength: null, sourceName + " (gzip)", size);
            if (stream.CanSeek)
            {
                CheckGzipTrailer(stream, decompressed, sourceName + " (gzip)");
            }
            return array;
        }
        long? knownLength = stream.CanSeek ? stream.Length - start : null;
        return ReadContent(content, knownLength, sourceName, gzipSize: null);
    }

    /// <summary>What a seekable gzip stream says of its size before it is decompressed: its compressed length and its trailer's ISIZE (decompressed length mod 2^32, unverified).</summary>
    private readonly record struct GzipSize(long CompressedLength, uint DeclaredDecompressedLength)
    {
        /// <summary>Whether <paramref name="decompressedLength"/> is what the trailer says and what deflate could produce from this stream.</summary>
        public bool Allows(long decompressedLength) =>
            unchecked((uint)decompressedLength) == DeclaredDecompressedLength && decompressedLength <= CompressedLength * MaxDeflateRatio;
    }

    /// <summary>Reads the ISIZE field (the last 4 bytes) of the gzip stream that starts at <paramref name="start"/>, then returns to <paramref name="start"/>.</summary>
    private static GzipSize? ReadGzipSize(Stream stream, long start)
    {
        long length = stream.Length - start;
        if (length < 8)
        {
            return null;
        }
        Span<byte> size = stackalloc byte[4];
        stream.Seek(-4, SeekOrigin.End);
        stream.ReadExactly(size);
        stream.Position = start;
        return new GzipSize(length, BinaryPrimitives.ReadUInt32LittleEndian(size));
    }

    private static IdxArray ReadContent(Stream stream, long? knownLength, string source, GzipSize? gzipSize)
    {
        Span<byte> magic = stackalloc byte[4];
        int magicLength = ReadAtMost(stream, magic, source);
        if (magicLength < 4)
        {
            throw new InvalidDataException($"{source}: header: found {magicLength} bytes; expected at least 4 (the magic number).");
        }
        if (magic[0] != 0 || magic[1] != 0)
        {
            throw new InvalidDataException($"{source}: magic: found bytes 0x{magic[0]:X2} 0x{magic[1]:X2} 0x{magic[2]:X2} 0x{magic[3]:X2}; expected the first two bytes to be 0x00 0x00 (IDX magic 0x0000TTRR).");
        }
        var elementType = (IdxElementType)magic[2];
        int elementSize = IdxArray.ElementSize(elementType);
        if (elementSize == 0)
        {
            throw new InvalidDataException($"{source}: element type (byte 2): found 0x{magic[2]:X2}; expected one of 0x08 (uint8), 0x09 (int8), 0x0B (int16), 0x0C (int32), 0x0D (float32), 0x0E (float64).");
        }
        int rank = magic[3];
        if (rank == 0)
        {
            throw new InvalidDataException($"{source}: rank (byte 3): found 0; expected 1 to 255 dimensions.");
        }

        byte[] header = new byte[4 * rank];
        int headerLength = ReadAtMost(stream, header, source);
        if (headerLength < header.Length)
        {
            throw new InvalidDataException($"{source}: dimensions: found {headerLength} bytes after the magic number; expected {header.Length} (4 bytes for each of {rank} dimensions).");
        }
        int[] dimensions = new int[rank];
        for (int axis = 0; axis < rank; axis++)
        {
            dimensions[axis] = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4 * axis));
        }
        for (int axis = 0; axis < rank; axis++)
        {
            if (dimensions[axis] <= 0)
            {
                throw new InvalidDataException($"{source}: dimension {axis}: found {dimensions[axis]} in dimensions {IdxArray.Format(dimensions)}; expected a positive size.");
            }
        }
        BigInteger declaredCount = BigInteger.One;
        foreach (int dimension in dimensions)
        {
            declaredCount *= dimension;
        }
        if (declaredCount * elementSize > Array.MaxLength)
        {
            throw new InvalidDataException($"{source}: dimensions: found {IdxArray.Format(dimensions)}, {declaredCount} elements of {elementSize} bytes ({declaredCount * elementSize} bytes); expected at most {Array.MaxLength} bytes of data.");
        }
        int count = (int)declaredCount;
        long headerBytes = 4 + 4L * rank;
        long? dataLength = knownLength - headerBytes;
        // A gzip stream whose trailer agrees with the header is decompressed into one array of the declared size.
        bool allocateDeclared = gzipSize?.Allows(headerBytes + (long)count * elementSize) == true;

        Array values = elementType switch
        {
            IdxElementType.UnsignedByte => ReadElements<byte>(stream, count, dataLength, allocateDeclared, dimensions, source),
            IdxElementType.SignedByte => ReadElements<sbyte>(stream, count, dataLength, allocateDeclared, dimensions, source),
            IdxElementType.Int16 => ReadElements<short>(stream, count, dataLength, allocateDeclared, dimensions, source),
            IdxElementType.Int32 => ReadElements<int>(stream, count, dataLength, allocateDeclared, dimensions, source),
            IdxElementType.Single => ReadElements<float>(stream, count, dataLength, allocateDeclared, dimensions, source),
            _ => ReadElements<double>(stream, count, dataLength, allocateDeclared, dimensions, source),
        };
        return IdxArray.CreateValidated(values, elementType, dimensions);
    }

    /// <summary>
    /// A gzip stream cut inside its 8-byte trailer still decompresses completely, and the decoder then skips its
    /// CRC check; a corrupted stream can even end inside its trailer while its last bytes still hold the right ISIZE.
    /// So both trailer fields are checked here: CRC-32 of the decompressed bytes, then ISIZE (their length mod 2^32),
    /// both little-endian, in the last 8 bytes.
    /// </summary>
    private static void CheckGzipTrailer(Stream stream, Crc32Stream decompressed, string source)
    {
        uint expectedSize = unchecked((uint)decompressed.BytesRead);
        Span<byte> trailer = stackalloc byte[8];
        if (stream.Length < trailer.Length)
        {
            throw new InvalidDataException($"{source}: gzip trailer: found a stream of {stream.Length} bytes; expected at least 8 (CRC-32 and ISIZE).");
        }
        stream.Seek(-8, SeekOrigin.End);
        stream.ReadExactly(trailer);
        uint foundCrc = BinaryPrimitives.ReadUInt32LittleEndian(trailer);
        uint foundSize = BinaryPrimitives.ReadUInt32LittleEndian(trailer[4..]);
        if (foundSize != expectedSize)
        {
            throw new InvalidDataException(
                $"{source}: gzip trailer: found a decompressed size (ISIZE) of {foundSize} in the last 4 bytes; expected {expectedSize} ({decompressed.BytesRead} bytes mod 2^32). The gzip stream is truncated, or holds several gzip members, which IDX files do not.");
        }
        if (foundCrc != decompressed.Crc)
        {
            throw new InvalidDataException(
                $"{source}: gzip trailer: found a CRC-32 of 0x{foundCrc:X8} in the trailer; expected 0x{decompressed.Crc:X8}, the CRC-32 of the decompressed bytes. The gzip stream is corrupt or truncated.");
        }
    }

    private static T[] ReadElements<T>(Stream stream, int count, long? dataLength, bool allocateDeclared, int[] dimensions, string source)
        where T : unmanaged
    {
        long byteCount = (long)count * Unsafe.SizeOf<T>();
        if (dataLength is long available)
        {
            if (available != byteCount)
            {
                throw LengthMismatch(source, available, byteCount, count, Unsafe.SizeOf<T>(), dimensions);
            }
            var exact = new T[count];
            Span<byte> bytes = MemoryMarshal.AsBytes(exact.AsSpan());
            int read = ReadAtMost(stream, bytes, source);
            if (read != bytes.Length)
            {
                throw LengthMismatch(source, read, byteCount, count, Unsafe.SizeOf<T>(), dimensions);
            }
            FromBigEndian(bytes, Unsafe.SizeOf<T>());
            return exact;
        }

        // Unknown length (gzip or a non-seekable stream): the declared size when the gzip trailer vouches for it,
        // else grow the buffer as data arrives, never past the declared size.
        var values = new T[allocateDeclared ? count : (int)Math.Min(count, Math.Max(1, InitialChunkBytes / Unsafe.SizeOf<T>()))];
        long filled = 0;
        while (true)
        {
            Span<byte> bytes = MemoryMarshal.AsBytes(values.AsSpan());
            int read = ReadAtMost(stream, bytes[(int)filled..], source);
            filled += read;
            if (filled == byteCount)
            {
                break;
            }
            if (filled < bytes.Length)
            {
                throw LengthMismatch(source, filled, byteCount, count, Unsafe.SizeOf<T>(), dimensions);
            }
            Array.Resize(ref values, (int)Math.Min(count, 2L * values.Length));
        }

        Span<byte> extra = stackalloc byte[4096];
        long extraBytes = 0;
        int extraRead;
        while (extraBytes < ExtraBytesCounted && (extraRead = ReadAtMost(stream, extra, source)) > 0)
        {
            extraBytes += extraRead;
        }
        if (extraBytes > 0)
        {
            string found = extraBytes >= ExtraBytesCounted ? $"more than {byteCount + extraBytes}" : $"{byteCount + extraBytes}";
            throw new InvalidDataException($"{source}: data length: found {found} bytes of data after the header; expected {count} elements × {Unsafe.SizeOf<T>()} bytes = {byteCount} bytes for dimensions {IdxArray.Format(dimensions)} (the file is longer than its header says).");
        }
        FromBigEndian(MemoryMarshal.AsBytes(values.AsSpan()), Unsafe.SizeOf<T>());
        return values;
    }

    private static void FromBigEndian(Span<byte> bytes, int elementSize)
    {
        if (BitConverter.IsLittleEndian)
        {
            Endianness.Reverse(bytes, elementSize);
        }
    }

    private static InvalidDataException LengthMismatch(string source, long found, long expected, int count, int elementSize, int[] dimensions)
    {
        string verdict = found < expected ? "shorter than its header says; truncated?" : "longer than its header says";
        return new InvalidDataException($"{source}: data length: found {found} bytes of data after the header; expected {count} elements × {elementSize} bytes = {expected} bytes for dimensions {IdxArray.Format(dimensions)} (the file is {verdict}).");
    }

    /// <summary>Reads until <paramref name="destination"/> is full or the stream ends; turns gzip decoding errors into an <see cref="InvalidDataException"/> that names the source.</summary>
    private static int ReadAtMost(Stream stream, Span<byte> destination, string source)
    {
        try
        {
            return stream.ReadAtLeast(destination, destination.Length, throwOnEndOfStream: false);
        }
        catch (InvalidDataException exception)
        {
            throw new InvalidDataException($"{source}: gzip stream: found corrupt compressed data ({exception.Message}); expected a valid gzip stream.", exception);
        }
    }
}
