using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Engine.Data;

/// <summary>Byte-order reversal of packed elements, in place.</summary>
internal static class Endianness
{
    /// <summary>Reverses the byte order of every <paramref name="elementSize"/>-byte element (1, 2, 4 or 8) of <paramref name="bytes"/>.</summary>
    public static void Reverse(Span<byte> bytes, int elementSize)
    {
        switch (elementSize)
        {
            case 2:
                Span<short> shorts = MemoryMarshal.Cast<byte, short>(bytes);
                BinaryPrimitives.ReverseEndianness(shorts, shorts);
                break;
            case 4:
                Span<int> ints = MemoryMarshal.Cast<byte, int>(bytes);
                BinaryPrimitives.ReverseEndianness(ints, ints);
                break;
            case 8:
                Span<long> longs = MemoryMarshal.Cast<byte, long>(bytes);
                BinaryPrimitives.ReverseEndianness(longs, longs);
                break;
        }
    }
}
