using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Engine.Checkpoint;

/// <summary>
/// Writes little-endian primitives, length-prefixed UTF-8 strings and float32 arrays to a stream through a
/// buffer, hashing every byte with SHA-256 so that <see cref="WriteChecksum"/> can append the digest.
/// </summary>
internal sealed class LittleEndianWriter : IDisposable
{
    private readonly Stream _output;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[] _buffer = new byte[1 << 16];
    private int _used;

    public LittleEndianWriter(Stream output)
    {
        _output = output;
    }

    /// <summary>The number of bytes written so far.</summary>
    public long Position { get; private set; }

    public void WriteUInt32(uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Reserve(sizeof(uint)), value);

    public void WriteInt32(int value) => BinaryPrimitives.WriteInt32LittleEndian(Reserve(sizeof(int)), value);

    public void WriteInt64(long value) => BinaryPrimitives.WriteInt64LittleEndian(Reserve(sizeof(long)), value);

    public void WriteUInt64(ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Reserve(sizeof(ulong)), value);

    /// <summary>A count or length, stored as uint32.</summary>
    public void WriteCount(int count) => WriteUInt32(checked((uint)count));

    /// <summary>A string as its UTF-8 byte count (uint32) followed by the bytes.</summary>
    public void WriteString(string value)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        WriteCount(bytes.Length);
        WriteBytes(bytes);
    }

    public void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > _buffer.Length - _used)
        {
            Flush();
        }
        if (bytes.Length >= _buffer.Length)
        {
            // Large payloads bypass the buffer.
            _hash.AppendData(bytes);
            _output.Write(bytes);
            Position += bytes.Length;
            return;
        }
        bytes.CopyTo(Reserve(bytes.Length));
    }

    /// <summary>Float32 values, little-endian, bit for bit (negative zero, subnormals and NaN payloads survive).</summary>
    public void WriteFloats(ReadOnlySpan<float> values)
    {
        if (BitConverter.IsLittleEndian)
        {
            WriteBytes(MemoryMarshal.AsBytes(values));
            return;
        }
        foreach (float value in values)
        {
            BinaryPrimitives.WriteSingleLittleEndian(Reserve(sizeof(float)), value);
        }
    }

    /// <summary>Appends the SHA-256 digest of everything written so far (the digest itself is not hashed).</summary>
    public void WriteChecksum()
    {
        Flush();
        Span<byte> digest = stackalloc byte[CheckpointFormat.ChecksumLength];
        _hash.GetHashAndReset(digest);
        _output.Write(digest);
        Position += digest.Length;
    }

    /// <summary>Passes buffered bytes to the hash and the stream.</summary>
    public void Flush()
    {
        if (_used == 0)
        {
            return;
        }
        _hash.AppendData(_buffer, 0, _used);
        _output.Write(_buffer, 0, _used);
        _used = 0;
    }

    public void Dispose() => _hash.Dispose();

    private Span<byte> Reserve(int count)
    {
        if (_buffer.Length - _used < count)
        {
            Flush();
        }
        Span<byte> span = _buffer.AsSpan(_used, count);
        _used += count;
        Position += count;
        return span;
    }
}
