using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Engine.Data;

/// <summary>Whether <see cref="IdxWriter"/> compresses its output.</summary>
public enum IdxCompression
{
    /// <summary>Plain IDX bytes.</summary>
    None,

    /// <summary>IDX bytes inside a gzip stream.</summary>
    Gzip,
}

/// <summary>Writes IDX files (any element type and rank), plain or gzip; the inverse of <see cref="IdxReader"/>.</summary>
public static class IdxWriter
{
    private const int ChunkBytes = 1 << 16;

    /// <summary>Writes <paramref name="array"/> to a new file at <paramref name="path"/> (replacing any).</summary>
    public static void Write(IdxArray array, string path, IdxCompression compression = IdxCompression.None)
    {
        ArgumentNullException.ThrowIfNull(array);
        ArgumentNullException.ThrowIfNull(path);
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 16);
        Write(array, file, compression);
    }

    /// <summary>Writes <paramref name="array"/> to <paramref name="stream"/> at its current position; the stream is left open.</summary>
    public static void Write(IdxArray array, Stream stream, IdxCompression compression = IdxCompression.None)
    {
        ArgumentNullException.ThrowIfNull(array);
        ArgumentNullException.ThrowIfNull(stream);
        if (compression == IdxCompression.Gzip)
        {
            using var gzip = new GZipStream(stream, CompressionLevel.Optimal, leaveOpen: true);
            WritePlain(array, gzip);
            return;
        }
        WritePlain(array, stream);
    }

    private static void WritePlain(IdxArray array, Stream stream)
    {
        Span<byte> header = stackalloc byte[4 + 4 * array.Rank];
        header[0] = 0;
        header[1] = 0;
        header[2] = (byte)array.ElementType;
        header[3] = (byte)array.Rank;
        for (int axis = 0; axis < array.Rank; axis++)
        {
            BinaryPrimitives.WriteInt32BigEndian(header[(4 + 4 * axis)..], array.Dimensions[axis]);
        }
        stream.Write(header);

        switch (array.Values)
        {
            case byte[] bytes:
                stream.Write(bytes);
                break;
            case sbyte[] signedBytes:
                stream.Write(MemoryMarshal.AsBytes(signedBytes.AsSpan()));
                break;
            case short[] shorts:
                WriteBigEndian<short>(shorts, stream);
                break;
            case int[] ints:
                WriteBigEndian<int>(ints, stream);
                break;
            case float[] floats:
                WriteBigEndian<int>(MemoryMarshal.Cast<float, int>(floats.AsSpan()), stream);
                break;
            case double[] doubles:
                WriteBigEndian<long>(MemoryMarshal.Cast<double, long>(doubles.AsSpan()), stream);
                break;
        }
    }

    private static void WriteBigEndian<T>(ReadOnlySpan<T> values, Stream stream) where T : unmanaged
    {
        var chunk = new T[Math.Min(values.Length, ChunkBytes / Unsafe.SizeOf<T>())];
        for (int start = 0; start < values.Length; start += chunk.Length)
        {
            int length = Math.Min(chunk.Length, values.Length - start);
            Span<T> destination = chunk.AsSpan(0, length);
            values.Slice(start, length).CopyTo(destination);
            if (BitConverter.IsLittleEndian)
            {
                Endianness.Reverse(MemoryMarshal.AsBytes(destination), Unsafe.SizeOf<T>());
            }
            stream.Write(MemoryMarshal.AsBytes(destination));
        }
    }
}
