using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Kernels;

/// <summary>Matrix transpose of a row-major [R, C] buffer.</summary>
public static unsafe class Transpose
{
    /// <summary>destination[C, R] = source[R, C]ᵀ.</summary>
    public static void Matrix(ReadOnlySpan<float> source, int rows, int columns, Span<float> destination) =>
        Rows(source, rows, columns, destination, 0, rows);

    /// <summary>
    /// Writes the columns <paramref name="firstRow"/>..<paramref name="endRow"/> of destination[C, R] =
    /// source[R, C]ᵀ (source rows in that range): disjoint ranges can run on different threads.
    /// In 8 x 8 blocks transposed in registers, so that at most 8 destination rows are written at once
    /// (a larger block with a power-of-two stride evicts itself from the L1 cache's ways).
    /// </summary>
    public static void Rows(ReadOnlySpan<float> source, int rows, int columns, Span<float> destination, int firstRow, int endRow)
    {
        if (source.Length < (long)rows * columns || destination.Length < (long)rows * columns)
        {
            throw new ArgumentException($"Transpose of [{rows}, {columns}] expects {(long)rows * columns} values in each buffer; received {source.Length} and {destination.Length}.");
        }
        Debug.Assert(0 <= firstRow && firstRow <= endRow && endRow <= rows);
        fixed (float* from = source, to = destination)
        {
            int row = firstRow;
            if (Avx.IsSupported)
            {
                // 16 source rows at a time: each destination row receives a whole 64-byte line.
                for (; row + 16 <= endRow; row += 16)
                {
                    int column = 0;
                    for (; column + 8 <= columns; column += 8)
                    {
                        Block8(from + (nint)row * columns + column, columns, to + (nint)column * rows + row, rows);
                        Block8(from + (nint)(row + 8) * columns + column, columns, to + (nint)column * rows + row + 8, rows);
                    }
                    Scalar(from, rows, columns, to, row, row + 16, column, columns);
                }
                for (; row + 8 <= endRow; row += 8)
                {
                    int column = 0;
                    for (; column + 8 <= columns; column += 8)
                    {
                        Block8(from + (nint)row * columns + column, columns, to + (nint)column * rows + row, rows);
                    }
                    Scalar(from, rows, columns, to, row, row + 8, column, columns);
                }
            }
            Scalar(from, rows, columns, to, row, endRow, 0, columns);
        }
    }

    private static void Scalar(float* from, int rows, int columns, float* to, int rowStart, int rowEnd, int columnStart, int columnEnd)
    {
        for (int row = rowStart; row < rowEnd; row++)
        {
            for (int column = columnStart; column < columnEnd; column++)
            {
                to[(nint)column * rows + row] = from[(nint)row * columns + column];
            }
        }
    }

    private static void Block8(float* source, int sourceStride, float* destination, int destinationStride)
    {
        Vector256<float> r0 = Avx.LoadVector256(source);
        Vector256<float> r1 = Avx.LoadVector256(source + sourceStride);
        Vector256<float> r2 = Avx.LoadVector256(source + 2 * (nint)sourceStride);
        Vector256<float> r3 = Avx.LoadVector256(source + 3 * (nint)sourceStride);
        Vector256<float> r4 = Avx.LoadVector256(source + 4 * (nint)sourceStride);
        Vector256<float> r5 = Avx.LoadVector256(source + 5 * (nint)sourceStride);
        Vector256<float> r6 = Avx.LoadVector256(source + 6 * (nint)sourceStride);
        Vector256<float> r7 = Avx.LoadVector256(source + 7 * (nint)sourceStride);

        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1);
        Vector256<float> t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5);
        Vector256<float> t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);

        Vector256<float> s0 = Avx.Shuffle(t0, t2, 0x44), s1 = Avx.Shuffle(t0, t2, 0xEE);
        Vector256<float> s2 = Avx.Shuffle(t1, t3, 0x44), s3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> s4 = Avx.Shuffle(t4, t6, 0x44), s5 = Avx.Shuffle(t4, t6, 0xEE);
        Vector256<float> s6 = Avx.Shuffle(t5, t7, 0x44), s7 = Avx.Shuffle(t5, t7, 0xEE);

        Avx.Store(destination, Avx.Permute2x128(s0, s4, 0x20));
        Avx.Store(destination + destinationStride, Avx.Permute2x128(s1, s5, 0x20));
        Avx.Store(destination + 2 * (nint)destinationStride, Avx.Permute2x128(s2, s6, 0x20));
        Avx.Store(destination + 3 * (nint)destinationStride, Avx.Permute2x128(s3, s7, 0x20));
        Avx.Store(destination + 4 * (nint)destinationStride, Avx.Permute2x128(s0, s4, 0x31));
        Avx.Store(destination + 5 * (nint)destinationStride, Avx.Permute2x128(s1, s5, 0x31));
        Avx.Store(destination + 6 * (nint)destinationStride, Avx.Permute2x128(s2, s6, 0x31));
        Avx.Store(destination + 7 * (nint)destinationStride, Avx.Permute2x128(s3, s7, 0x31));
    }
}
