using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Engine.Checkpoint;

/// <summary>
/// Reads the little-endian fields of a checkpoint body from a stream, never past <c>end</c> (the start of the
/// checksum). Every length is checked against the bytes that remain before anything is allocated, so a
/// corrupt length field gives a <see cref="CheckpointCorruptException"/> instead of a huge allocation.
/// </summary>
internal sealed class BoundedReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly Stream _input;
    private readonly long _end;
    private readonly string _path;
    private readonly byte[] _scratch = new byte[sizeof(ulong)];

    public BoundedReader(Stream input, long start, long end, string path)
    {
        _input = input;
        _input.Position = start;
        Position = start;
        _end = end;
        _path = path;
    }

    /// <summary>The offset of the next byte in the file.</summary>
    public long Position { get; private set; }

    /// <summary>The bytes left before the checksum.</summary>
    public long Remaining => _end - Position;

    public uint ReadUInt32(string field) => BinaryPrimitives.ReadUInt32LittleEndian(ReadScratch(sizeof(uint), field));

    public int ReadInt32(string field) => BinaryPrimitives.ReadInt32LittleEndian(ReadScratch(sizeof(int), field));

    public long ReadInt64(string field) => BinaryPrimitives.ReadInt64LittleEndian(ReadScratch(sizeof(long), field));

    public ulong ReadUInt64(string field) => BinaryPrimitives.ReadUInt64LittleEndian(ReadScratch(sizeof(ulong), field));

    /// <summary>
    /// A uint32 count of entries that each take at least <paramref name="minimumEntryLength"/> bytes; refused
    /// when that many entries cannot fit in the bytes that remain.
    /// </summary>
    public int ReadCount(string field, int minimumEntryLength)
    {
        long offset = Position;
        uint count = ReadUInt32(field);
        if ((ulong)count * (ulong)minimumEntryLength > (ulong)Remaining)
        {
            throw Corrupt($"{field} at offset {offset} is {count}, but {count} entries of at least {minimumEntryLength} bytes " +
                          $"cannot fit in the {Remaining} bytes that remain before the checksum.");
        }
        return (int)count;
    }

    /// <summary>A string stored as its UTF-8 byte count (uint32) and the bytes; invalid UTF-8 is refused.</summary>
    public string ReadString(string field)
    {
        int length = ReadCount(field + " length", 1);
        byte[] bytes = new byte[length];
        ReadExactly(bytes, field);
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException exception)
        {
            throw Corrupt($"{field} at offset {Position - length} is not valid UTF-8.", exception);
        }
    }

    /// <summary>Fills <paramref name="destination"/> with little-endian float32 values, bit for bit.</summary>
    public void ReadFloats(Span<float> destination, string field)
    {
        Span<byte> bytes = MemoryMarshal.AsBytes(destination);
        ReadExactly(bytes, field);
        if (!BitConverter.IsLittleEndian)
        {
            Span<int> words = MemoryMarshal.Cast<float, int>(destination);
            BinaryPrimitives.ReverseEndianness(words, words);
        }
    }

    /// <summary>A <see cref="CheckpointCorruptException"/> for this reader's file.</summary>
    public CheckpointCorruptException Corrupt(string problem, Exception? innerException = null) => new(_path, problem, innerException);

    private ReadOnlySpan<byte> ReadScratch(int count, string field)
    {
        Span<byte> span = _scratch.AsSpan(0, count);
        ReadExactly(span, field);
        return span;
    }

    private void ReadExactly(Span<byte> destination, string field)
    {
        if (destination.Length > Remaining)
        {
            throw Corrupt($"{field} at offset {Position} needs {destination.Length} bytes, but only {Remaining} remain before the checksum.");
        }
        try
        {
            _input.ReadExactly(destination);
        }
        catch (EndOfStreamException exception)
        {
            throw Corrupt($"the file ended while reading {field} at offset {Position} (was it truncated while being read?).", exception);
        }
        Position += destination.Length;
    }
}
