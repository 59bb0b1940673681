namespace Engine.Data;

/// <summary>
/// A read-only pass-through stream that computes the CRC-32 (IEEE 802.3, as in gzip trailers) and the length of
/// everything read through it. <see cref="IdxReader"/> uses it to check a gzip trailer itself: the decoder skips
/// that check when the stream ends inside the trailer, which a corrupted or cut file can arrange.
/// </summary>
internal sealed class Crc32Stream(Stream inner) : Stream
{
    private static readonly uint[] Table = CreateTable();
    private uint _crc = 0xFFFFFFFF;

    /// <summary>The CRC-32 of the bytes read so far.</summary>
    public uint Crc => ~_crc;

    /// <summary>How many bytes were read.</summary>
    public long BytesRead { get; private set; }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int read = inner.Read(buffer);
        uint crc = _crc;
        foreach (byte value in buffer[..read])
        {
            crc = Table[(crc ^ value) & 0xFF] ^ (crc >> 8);
        }
        _crc = crc;
        BytesRead += read;
        return read;
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private static uint[] CreateTable()
    {
        var table = new uint[256];
        for (uint index = 0; index < 256; index++)
        {
            uint value = index;
            for (int bit = 0; bit < 8; bit++)
            {
                value = (value & 1) != 0 ? 0xEDB88320 ^ (value >> 1) : value >> 1;
            }
            table[index] = value;
        }
        return table;
    }
}
