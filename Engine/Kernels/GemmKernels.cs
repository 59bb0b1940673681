using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Kernels;

// Shape legend: rows x columns of the result c, depth the reduced dimension. One driver serves all
// three products of Gemm through strides: element (i, p) of the left operand is at
// a[i·aRowStride + p·aDepthStride], row p of the right operand starts at b + p·bStride, row i of c
// at c + i·cStride.
//
// Determinism: every element of c is one chain of fused multiply-adds over p = 0, 1, ... depth - 1,
// started from 0 or from c, in every tile shape including the tails; splitting the depth into
// blocks stores and reloads the chain exactly. So an element's value depends only on its inputs,
// not on the tile that computed it, on the row range of the call, or on the vector width — and it
// equals the scalar reference in Gemm bit for bit.

/// <summary>How a tile starts its accumulators and what it stores.</summary>
internal enum TileMode
{
    /// <summary>Start from zero; store the sum.</summary>
    Overwrite,

    /// <summary>Start from c; store the sum (c is the first addend of the chain).</summary>
    Accumulate,

    /// <summary>Start from zero; store c + sum (c is added once, after the chain).</summary>
    AddAfter,
}

/// <summary>The SIMD GEMM: a blocking driver and register-tile micro-kernels, generic over the vector width.</summary>
internal static unsafe class GemmKernels
{
    /// <summary>Rows of c per block: two 6-row tiles, or one 12-row tile.</summary>
    private const int RowBlock = 12;

    /// <summary>Floats of the right operand per depth block of Multiply (256 KiB, a quarter of L2).</summary>
    private const int RightBlockFloats = 64 * 1024;

    /// <summary>Rows of a and b reduced per block of MultiplyTransposeA (keeps both chunks in L2).</summary>
    private const int TransposeADepthBlock = 256;

    /// <summary>c[M, N] (+)= a[M, K] · b[K, N].</summary>
    internal static void Multiply<TOps, TVector>(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, Span<float> c, bool accumulate)
        where TOps : struct, IGemmVector<TVector>
        where TVector : struct
    {
        Debug.Assert(a.Length >= (long)m * k && b.Length >= (long)k * n && c.Length >= (long)m * n);
        fixed (float* left = a, right = b, result = c)
        {
            Product<TOps, TVector>(left, k, 1, right, n, result, n, m, n, k, MultiplyDepthBlock(k, n),
                accumulate ? TileMode.Accumulate : TileMode.Overwrite);
        }
    }

    /// <summary>c[K, N] (+)= a[M, K]ᵀ · b[M, N]: a reduction over the M rows in ascending order.</summary>
    internal static void MultiplyTransposeA<TOps, TVector>(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, Span<float> c, bool accumulate)
        where TOps : struct, IGemmVector<TVector>
        where TVector : struct
    {
        Debug.Assert(a.Length >= (long)m * k && b.Length >= (long)m * n && c.Length >= (long)k * n);
        fixed (float* left = a, right = b, result = c)
        {
            // Rows of c are columns of a: consecutive floats; the depth walks down the rows of a.
            Product<TOps, TVector>(left, 1, k, right, n, result, n, k, n, m, TransposeADepthBlock,
                accumulate ? TileMode.Accumulate : TileMode.Overwrite);
        }
    }

    /// <summary>
    /// c[M, K] = a[M, N] · b[K, N]ᵀ (or c + that when <paramref name="accumulate"/>), through
    /// <paramref name="transposed"/> (at least K·N floats), which receives bᵀ [N, K].
    /// </summary>
    internal static void MultiplyTransposeB<TOps, TVector>(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, Span<float> c, bool accumulate,
        Span<float> transposed)
        where TOps : struct, IGemmVector<TVector>
        where TVector : struct
    {
        Debug.Assert(a.Length >= (long)m * n && b.Length >= (long)k * n && c.Length >= (long)m * k && transposed.Length >= (long)k * n);
        if (m == 0 || k == 0)
        {
            return;
        }
        Transpose(b, k, n, transposed);
        fixed (float* left = a, right = transposed, result = c)
        {
            // The sum is added to c after the chain, as the reference does: one depth block.
            Product<TOps, TVector>(left, n, 1, right, k, result, k, m, k, n, Math.Max(n, 1),
                accumulate ? TileMode.AddAfter : TileMode.Overwrite);
        }
    }

    /// <summary>destination[N, K] = source[K, N]ᵀ.</summary>
    internal static void Transpose(ReadOnlySpan<float> source, int k, int n, Span<float> destination)
    {
        const int Block = 16;
        for (int row = 0; row < k; row += Block)
        {
            int rowEnd = Math.Min(row + Block, k);
            for (int column = 0; column < n; column += Block)
            {
                int columnEnd = Math.Min(column + Block, n);
                for (int i = row; i < rowEnd; i++)
                {
                    for (int j = column; j < columnEnd; j++)
                    {
                        destination[j * k + i] = source[i * n + j];
                    }
                }
            }
        }
    }

    /// <summary>
    /// Depth per block of Multiply: the whole depth when that slab of b fits
    /// <see cref="RightBlockFloats"/>, else equal blocks that do.
    /// </summary>
    internal static int MultiplyDepthBlock(int depth, int columns)
    {
        int limit = Math.Max(16, RightBlockFloats / Math.Max(columns, 1));
        int blocks = Math.Max(1, (depth + limit - 1) / limit);
        return Math.Max(1, (depth + blocks - 1) / blocks);
    }

    /// <summary>
    /// c (rows x columns) = a · b by <paramref name="mode"/>, blocked over the depth (each block
    /// continues the previous block's chains through c), then rows, then column panels.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Product<TOps, TVector>(float* a, nint aRowStride, nint aDepthStride, float* b, nint bStride,
        float* c, nint cStride, int rows, int columns, int depth, int depthBlock, TileMode mode)
        where TOps : struct, IGemmVector<TVector>
        where TVector : struct
    {
        Debug.Assert(depthBlock >= 1 && (mode != TileMode.AddAfter || depthBlock >= depth));
        int width = TOps.Count;
        int depthStart = 0;
        do
        {
            int blockDepth = Math.Min(depthBlock, depth - depthStart);
            TileMode blockMode = depthStart == 0 ? mode : TileMode.Accumulate;
            float* aBlock = a + depthStart * aDepthStride;
            float* bBlock = b + depthStart * bStride;
            for (int row = 0; row < rows; row += RowBlock)
            {
                int blockRows = Math.Min(RowBlock, rows - row);
                float* aRows = aBlock + row * aRowStride;
                float* cRows = c + row * cStride;
                int column = 0;
                for (; column + 4 * width <= columns; column += 4 * width)
                {
                    Tile6x4<TOps, TVector>(aRows, aRowStride, aDepthStride, bBlock + column, bStride,
                        cRows + column, cStride, Math.Min(6, blockRows), blockDepth, blockMode);
                    if (blockRows > 6)
                    {
                        Tile6x4<TOps, TVector>(aRows + 6 * aRowStride, aRowStride, aDepthStride, bBlock + column, bStride,
                            cRows + 6 * cStride + column, cStride, blockRows - 6, blockDepth, blockMode);
                    }
                }
                if (column + 2 * width <= columns)
                {
                    Tile12x2<TOps, TVector>(aRows, aRowStride, aDepthStride, bBlock + column, bStride,
                        cRows + column, cStride, blockRows, blockDepth, blockMode);
                    column += 2 * width;
                }
                if (column + width <= columns)
                {
                    Tile12x1<TOps, TVector>(aRows, aRowStride, aDepthStride, bBlock + column, bStride,
                        cRows + column, cStride, blockRows, blockDepth, blockMode);
                    column += width;
                }
                for (; column < columns; column += 8)
                {
                    TileMasked12(aRows, aRowStride, aDepthStride, bBlock + column, bStride,
                        cRows + column, cStride, blockRows, Math.Min(8, columns - column), blockDepth, blockMode);
                }
            }
            depthStart += blockDepth;
        }
        while (depthStart < depth);
    }

    /// <summary>
    /// A tile of 6 rows x 4 vectors of c: 24 accumulators held in registers over the whole
    /// reduction. Rows at or past <paramref name="rows"/> repeat the last valid row and are not stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile6x4<TOps, TVector>(float* a, nint aRowStride, nint aDepthStride, float* b, nint bStride,
        float* c, nint cStride, int rows, int depth, TileMode mode)
        where TOps : struct, IGemmVector<TVector>
        where TVector : struct
    {
        Debug.Assert(rows >= 1 && rows <= 6 && depth >= 0);
        nint width = TOps.Count;
        float* aRow0 = a, cRow0 = c;
        nint row1 = Math.Min(1, rows - 1);
        float* aRow1 = a + row1 * aRowStride, cRow1 = c + row1 * cStride;
        nint row2 = Math.Min(2, rows - 1);
        float* aRow2 = a + row2 * aRowStride, cRow2 = c + row2 * cStride;
        nint row3 = Math.Min(3, rows - 1);
        float* aRow3 = a + row3 * aRowStride, cRow3 = c + row3 * cStride;
        nint row4 = Math.Min(4, rows - 1);
        float* aRow4 = a + row4 * aRowStride, cRow4 = c + row4 * cStride;
        nint row5 = Math.Min(5, rows - 1);
        float* aRow5 = a + row5 * aRowStride, cRow5 = c + row5 * cStride;
        TVector acc0_0, acc0_1, acc0_2, acc0_3, acc1_0, acc1_1, acc1_2, acc1_3, acc2_0, acc2_1, acc2_2, acc2_3, acc3_0, acc3_1, acc3_2, acc3_3, acc4_0, acc4_1, acc4_2, acc4_3, acc5_0, acc5_1, acc5_2, acc5_3;
        if (mode == TileMode.Accumulate)
        {
            acc0_0 = TOps.Load(cRow0); acc0_1 = TOps.Load(cRow0 + width); acc0_2 = TOps.Load(cRow0 + 2 * width); acc0_3 = TOps.Load(cRow0 + 3 * width);
            acc1_0 = TOps.Load(cRow1); acc1_1 = TOps.Load(cRow1 + width); acc1_2 = TOps.Load(cRow1 + 2 * width); acc1_3 = TOps.Load(cRow1 + 3 * width);
            acc2_0 = TOps.Load(cRow2); acc2_1 = TOps.Load(cRow2 + width); acc2_2 = TOps.Load(cRow2 + 2 * width); acc2_3 = TOps.Load(cRow2 + 3 * width);
            acc3_0 = TOps.Load(cRow3); acc3_1 = TOps.Load(cRow3 + width); acc3_2 = TOps.Load(cRow3 + 2 * width); acc3_3 = TOps.Load(cRow3 + 3 * width);
            acc4_0 = TOps.Load(cRow4); acc4_1 = TOps.Load(cRow4 + width); acc4_2 = TOps.Load(cRow4 + 2 * width); acc4_3 = TOps.Load(cRow4 + 3 * width);
            acc5_0 = TOps.Load(cRow5); acc5_1 = TOps.Load(cRow5 + width); acc5_2 = TOps.Load(cRow5 + 2 * width); acc5_3 = TOps.Load(cRow5 + 3 * width);
        }
        else
        {
            acc0_0 = TOps.Zero; acc0_1 = TOps.Zero; acc0_2 = TOps.Zero; acc0_3 = TOps.Zero;
            acc1_0 = TOps.Zero; acc1_1 = TOps.Zero; acc1_2 = TOps.Zero; acc1_3 = TOps.Zero;
            acc2_0 = TOps.Zero; acc2_1 = TOps.Zero; acc2_2 = TOps.Zero; acc2_3 = TOps.Zero;
            acc3_0 = TOps.Zero; acc3_1 = TOps.Zero; acc3_2 = TOps.Zero; acc3_3 = TOps.Zero;
            acc4_0 = TOps.Zero; acc4_1 = TOps.Zero; acc4_2 = TOps.Zero; acc4_3 = TOps.Zero;
            acc5_0 = TOps.Zero; acc5_1 = TOps.Zero; acc5_2 = TOps.Zero; acc5_3 = TOps.Zero;
        }
        nint offset = 0;
        for (int p = 0; p < depth; p++)
        {
            TVector b0 = TOps.Load(b), b1 = TOps.Load(b + width), b2 = TOps.Load(b + 2 * width), b3 = TOps.Load(b + 3 * width);
            TVector x;
            x = TOps.Broadcast(aRow0 + offset); acc0_0 = TOps.MultiplyAdd(x, b0, acc0_0); acc0_1 = TOps.MultiplyAdd(x, b1, acc0_1); acc0_2 = TOps.MultiplyAdd(x, b2, acc0_2); acc0_3 = TOps.MultiplyAdd(x, b3, acc0_3);
            x = TOps.Broadcast(aRow1 + offset); acc1_0 = TOps.MultiplyAdd(x, b0, acc1_0); acc1_1 = TOps.MultiplyAdd(x, b1, acc1_1); acc1_2 = TOps.MultiplyAdd(x, b2, acc1_2); acc1_3 = TOps.MultiplyAdd(x, b3, acc1_3);
            x = TOps.Broadcast(aRow2 + offset); acc2_0 = TOps.MultiplyAdd(x, b0, acc2_0); acc2_1 = TOps.MultiplyAdd(x, b1, acc2_1); acc2_2 = TOps.MultiplyAdd(x, b2, acc2_2); acc2_3 = TOps.MultiplyAdd(x, b3, acc2_3);
            x = TOps.Broadcast(aRow3 + offset); acc3_0 = TOps.MultiplyAdd(x, b0, acc3_0); acc3_1 = TOps.MultiplyAdd(x, b1, acc3_1); acc3_2 = TOps.MultiplyAdd(x, b2, acc3_2); acc3_3 = TOps.MultiplyAdd(x, b3, acc3_3);
            x = TOps.Broadcast(aRow4 + offset); acc4_0 = TOps.MultiplyAdd(x, b0, acc4_0); acc4_1 = TOps.MultiplyAdd(x, b1, acc4_1); acc4_2 = TOps.MultiplyAdd(x, b2, acc4_2); acc4_3 = TOps.MultiplyAdd(x, b3, acc4_3);
            x = TOps.Broadcast(aRow5 + offset); acc5_0 = TOps.MultiplyAdd(x, b0, acc5_0); acc5_1 = TOps.MultiplyAdd(x, b1, acc5_1); acc5_2 = TOps.MultiplyAdd(x, b2, acc5_2); acc5_3 = TOps.MultiplyAdd(x, b3, acc5_3);
            b += bStride;
            offset += aDepthStride;
        }
        if (mode == TileMode.AddAfter)
        {
            acc0_0 = TOps.Add(TOps.Load(cRow0), acc0_0); acc0_1 = TOps.Add(TOps.Load(cRow0 + width), acc0_1); acc0_2 = TOps.Add(TOps.Load(cRow0 + 2 * width), acc0_2); acc0_3 = TOps.Add(TOps.Load(cRow0 + 3 * width), acc0_3);
            acc1_0 = TOps.Add(TOps.Load(cRow1), acc1_0); acc1_1 = TOps.Add(TOps.Load(cRow1 + width), acc1_1); acc1_2 = TOps.Add(TOps.Load(cRow1 + 2 * width), acc1_2); acc1_3 = TOps.Add(TOps.Load(cRow1 + 3 * width), acc1_3);
            acc2_0 = TOps.Add(TOps.Load(cRow2), acc2_0); acc2_1 = TOps.Add(TOps.Load(cRow2 + width), acc2_1); acc2_2 = TOps.Add(TOps.Load(cRow2 + 2 * width), acc2_2); acc2_3 = TOps.Add(TOps.Load(cRow2 + 3 * width), acc2_3);
            acc3_0 = TOps.Add(TOps.Load(cRow3), acc3_0); acc3_1 = TOps.Add(TOps.Load(cRow3 + width), acc3_1); acc3_2 = TOps.Add(TOps.Load(cRow3 + 2 * width), acc3_2); acc3_3 = TOps.Add(TOps.Load(cRow3 + 3 * width), acc3_3);
            acc4_0 = TOps.Add(TOps.Load(cRow4), acc4_0); acc4_1 = TOps.Add(TOps.Load(cRow4 + width), acc4_1); acc4_2 = TOps.Add(TOps.Load(cRow4 + 2 * width), acc4_2); acc4_3 = TOps.Add(TOps.Load(cRow4 + 3 * width), acc4_3);
            acc5_0 = TOps.Add(TOps.Load(cRow5), acc5_0); acc5_1 = TOps.Add(TOps.Load(cRow5 + width), acc5_1); acc5_2 = TOps.Add(TOps.Load(cRow5 + 2 * width), acc5_2); acc5_3 = TOps.Add(TOps.Load(cRow5 + 3 * width), acc5_3);
        }
        TOps.Store(cRow0, acc0_0); TOps.Store(cRow0 + width, acc0_1); TOps.Store(cRow0 + 2 * width, acc0_2); TOps.Store(cRow0 + 3 * width, acc0_3);
        if (rows > 1)
        {
            TOps.Store(cRow1, acc1_0); TOps.Store(cRow1 + width, acc1_1); TOps.Store(cRow1 + 2 * width, acc1_2); TOps.Store(cRow1 + 3 * width, acc1_3);
        }
        if (rows > 2)
        {
            TOps.Store(cRow2, acc2_0); TOps.Store(cRow2 + width, acc2_1); TOps.Store(cRow2 + 2 * width, acc2_2); TOps.Store(cRow2 + 3 * width, acc2_3);
        }
        if (rows > 3)
        {
            TOps.Store(cRow3, acc3_0); TOps.Store(cRow3 + width, acc3_1); TOps.Store(cRow3 + 2 * width, acc3_2); TOps.Store(cRow3 + 3 * width, acc3_3);
        }
        if (rows > 4)
        {
            TOps.Store(cRow4, acc4_0); TOps.Store(cRow4 + width, acc4_1); TOps.Store(cRow4 + 2 * width, acc4_2); TOps.Store(cRow4 + 3 * width, acc4_3);
        }
        if (rows > 5)
        {
            TOps.Store(cRow5, acc5_0); TOps.Store(cRow5 + width, acc5_1); TOps.Store(cRow5 + 2 * width, acc5_2); TOps.Store(cRow5 + 3 * width, acc5_3);
        }
    }

    /// <summary>
    /// A tile of 12 rows x 2 vectors of c: 24 accumulators held in registers over the whole
    /// reduction. Rows at or past <paramref name="rows"/> repeat the last valid row and are not stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile12x2<TOps, TVector>(float* a, nint aRowStride, nint aDepthStride, float* b, nint bStride,
        float* c, nint cStride, int rows, int depth, TileMode mode)
        where TOps : struct, IGemmVector<TVector>
        where TVector : struct
    {
        Debug.Assert(rows >= 1 && rows <= 12 && depth >= 0);
        nint width = TOps.Count;
        float* aRow0 = a, cRow0 = c;
        nint row1 = Math.Min(1, rows - 1);
        float* aRow1 = a + row1 * aRowStride, cRow1 = c + row1 * cStride;
        nint row2 = Math.Min(2, rows - 1);
        float* aRow2 = a + row2 * aRowStride, cRow2 = c + row2 * cStride;
        nint row3 = Math.Min(3, rows - 1);
        float* aRow3 = a + row3 * aRowStride, cRow3 = c + row3 * cStride;
        nint row4 = Math.Min(4, rows - 1);
        float* aRow4 = a + row4 * aRowStride, cRow4 = c + row4 * cStride;
        nint row5 = Math.Min(5, rows - 1);
        float* aRow5 = a + row5 * aRowStride, cRow5 = c + row5 * cStride;
        nint row6 = Math.Min(6, rows - 1);
        float* aRow6 = a + row6 * aRowStride, cRow6 = c + row6 * cStride;
        nint row7 = Math.Min(7, rows - 1);
        float* aRow7 = a + row7 * aRowStride, cRow7 = c + row7 * cStride;
        nint row8 = Math.Min(8, rows - 1);
        float* aRow8 = a + row8 * aRowStride, cRow8 = c + row8 * cStride;
        nint row9 = Math.Min(9, rows - 1);
        float* aRow9 = a + row9 * aRowStride, cRow9 = c + row9 * cStride;
        nint row10 = Math.Min(10, rows - 1);
        float* aRow10 = a + row10 * aRowStride, cRow10 = c + row10 * cStride;
        nint row11 = Math.Min(11, rows - 1);
        float* aRow11 = a + row11 * aRowStride, cRow11 = c + row11 * cStride;
        TVector acc0_0, acc0_1, acc1_0, acc1_1, acc2_0, acc2_1, acc3_0, acc3_1, acc4_0, acc4_1, acc5_0, acc5_1, acc6_0, acc6_1, acc7_0, acc7_1, acc8_0, acc8_1, acc9_0, acc9_1, acc10_0, acc10_1, acc11_0, acc11_1;
        if (mode == TileMode.Accumulate)
        {
            acc0_0 = TOps.Load(cRow0); acc0_1 = TOps.Load(cRow0 + width);
            acc1_0 = TOps.Load(cRow1); acc1_1 = TOps.Load(cRow1 + width);
            acc2_0 = TOps.Load(cRow2); acc2_1 = TOps.Load(cRow2 + width);
            acc3_0 = TOps.Load(cRow3); acc3_1 = TOps.Load(cRow3 + width);
            acc4_0 = TOps.Load(cRow4); acc4_1 = TOps.Load(cRow4 + width);
            acc5_0 = TOps.Load(cRow5); acc5_1 = TOps.Load(cRow5 + width);
            acc6_0 = TOps.Load(cRow6); acc6_1 = TOps.Load(cRow6 + width);
            acc7_0 = TOps.Load(cRow7); acc7_1 = TOps.Load(cRow7 + width);
            acc8_0 = TOps.Load(cRow8); acc8_1 = TOps.Load(cRow8 + width);
            acc9_0 = TOps.Load(cRow9); acc9_1 = TOps.Load(cRow9 + width);
            acc10_0 = TOps.Load(cRow10); acc10_1 = TOps.Load(cRow10 + width);
            acc11_0 = TOps.Load(cRow11); acc11_1 = TOps.Load(cRow11 + width);
        }
        else
        {
            acc0_0 = TOps.Zero; acc0_1 = TOps.Zero;
            acc1_0 = TOps.Zero; acc1_1 = TOps.Zero;
            acc2_0 = TOps.Zero; acc2_1 = TOps.Zero;
            acc3_0 = TOps.Zero; acc3_1 = TOps.Zero;
            acc4_0 = TOps.Zero; acc4_1 = TOps.Zero;
            acc5_0 = TOps.Zero; acc5_1 = TOps.Zero;
            acc6_0 = TOps.Zero; acc6_1 = TOps.Zero;
            acc7_0 = TOps.Zero; acc7_1 = TOps.Zero;
            acc8_0 = TOps.Zero; acc8_1 = TOps.Zero;
            acc9_0 = TOps.Zero; acc9_1 = TOps.Zero;
            acc10_0 = TOps.Zero; acc10_1 = TOps.Zero;
            acc11_0 = TOps.Zero; acc11_1 = TOps.Zero;
        }
        nint offset = 0;
        for (int p = 0; p < depth; p++)
        {
            TVector b0 = TOps.Load(b), b1 = TOps.Load(b + width);
            TVector x;
            x = TOps.Broadcast(aRow0 + offset); acc0_0 = TOps.MultiplyAdd(x, b0, acc0_0); acc0_1 = TOps.MultiplyAdd(x, b1, acc0_1);
            x = TOps.Broadcast(aRow1 + offset); acc1_0 = TOps.MultiplyAdd(x, b0, acc1_0); acc1_1 = TOps.MultiplyAdd(x, b1, acc1_1);
            x = TOps.Broadcast(aRow2 + offset); acc2_0 = TOps.MultiplyAdd(x, b0, acc2_0); acc2_1 = TOps.MultiplyAdd(x, b1, acc2_1);
            x = TOps.Broadcast(aRow3 + offset); acc3_0 = TOps.MultiplyAdd(x, b0, acc3_0); acc3_1 = TOps.MultiplyAdd(x, b1, acc3_1);
            x = TOps.Broadcast(aRow4 + offset); acc4_0 = TOps.MultiplyAdd(x, b0, acc4_0); acc4_1 = TOps.MultiplyAdd(x, b1, acc4_1);
            x = TOps.Broadcast(aRow5 + offset); acc5_0 = TOps.MultiplyAdd(x, b0, acc5_0); acc5_1 = TOps.MultiplyAdd(x, b1, acc5_1);
            x = TOps.Broadcast(aRow6 + offset); acc6_0 = TOps.MultiplyAdd(x, b0, acc6_0); acc6_1 = TOps.MultiplyAdd(x, b1, acc6_1);
            x = TOps.Broadcast(aRow7 + offset); acc7_0 = TOps.MultiplyAdd(x, b0, acc7_0); acc7_1 = TOps.MultiplyAdd(x, b1, acc7_1);
            x = TOps.Broadcast(aRow8 + offset); acc8_0 = TOps.MultiplyAdd(x, b0, acc8_0); acc8_1 = TOps.MultiplyAdd(x, b1, acc8_1);
            x = TOps.Broadcast(aRow9 + offset); acc9_0 = TOps.MultiplyAdd(x, b0, acc9_0); acc9_1 = TOps.MultiplyAdd(x, b1, acc9_1);
            x = TOps.Broadcast(aRow10 + offset); acc10_0 = TOps.MultiplyAdd(x, b0, acc10_0); acc10_1 = TOps.MultiplyAdd(x, b1, acc10_1);
            x = TOps.Broadcast(aRow11 + offset); acc11_0 = TOps.MultiplyAdd(x, b0, acc11_0); acc11_1 = TOps.MultiplyAdd(x, b1, acc11_1);
            b += bStride;
            offset += aDepthStride;
        }
        if (mode == TileMode.AddAfter)
        {
            acc0_0 = TOps.Add(TOps.Load(cRow0), acc0_0); acc0_1 = TOps.Add(TOps.Load(cRow0 + width), acc0_1);
            acc1_0 = TOps.Add(TOps.Load(cRow1), acc1_0); acc1_1 = TOps.Add(TOps.Load(cRow1 + width), acc1_1);
            acc2_0 = TOps.Add(TOps.Load(cRow2), acc2_0); acc2_1 = TOps.Add(TOps.Load(cRow2 + width), acc2_1);
            acc3_0 = TOps.Add(TOps.Load(cRow3), acc3_0); acc3_1 = TOps.Add(TOps.Load(cRow3 + width), acc3_1);
            acc4_0 = TOps.Add(TOps.Load(cRow4), acc4_0); acc4_1 = TOps.Add(TOps.Load(cRow4 + width), acc4_1);
            acc5_0 = TOps.Add(TOps.Load(cRow5), acc5_0); acc5_1 = TOps.Add(TOps.Load(cRow5 + width), acc5_1);
            acc6_0 = TOps.Add(TOps.Load(cRow6), acc6_0); acc6_1 = TOps.Add(TOps.Load(cRow6 + width), acc6_1);
            acc7_0 = TOps.Add(TOps.Load(cRow7), acc7_0); acc7_1 = TOps.Add(TOps.Load(cRow7 + width), acc7_1);
            acc8_0 = TOps.Add(TOps.Load(cRow8), acc8_0); acc8_1 = TOps.Add(TOps.Load(cRow8 + width), acc8_1);
            acc9_0 = TOps.Add(TOps.Load(cRow9), acc9_0); acc9_1 = TOps.Add(TOps.Load(cRow9 + width), acc9_1);
            acc10_0 = TOps.Add(TOps.Load(cRow10), acc10_0); acc10_1 = TOps.Add(TOps.Load(cRow10 + width), acc10_1);
            acc11_0 = TOps.Add(TOps.Load(cRow11), acc11_0); acc11_1 = TOps.Add(TOps.Load(cRow11 + width), acc11_1);
        }
        TOps.Store(cRow0, acc0_0); TOps.Store(cRow0 + width, acc0_1);
        if (rows > 1)
        {
            TOps.Store(cRow1, acc1_0); TOps.Store(cRow1 + width, acc1_1);
        }
        if (rows > 2)
        {
            TOps.Store(cRow2, acc2_0); TOps.Store(cRow2 + width, acc2_1);
        }
        if (rows > 3)
        {
            TOps.Store(cRow3, acc3_0); TOps.Store(cRow3 + width, acc3_1);
        }
        if (rows > 4)
        {
            TOps.Store(cRow4, acc4_0); TOps.Store(cRow4 + width, acc4_1);
        }
        if (rows > 5)
        {
            TOps.Store(cRow5, acc5_0); TOps.Store(cRow5 + width, acc5_1);
        }
        if (rows > 6)
        {
            TOps.Store(cRow6, acc6_0); TOps.Store(cRow6 + width, acc6_1);
        }
        if (rows > 7)
        {
            TOps.Store(cRow7, acc7_0); TOps.Store(cRow7 + width, acc7_1);
        }
        if (rows > 8)
        {
            TOps.Store(cRow8, acc8_0); TOps.Store(cRow8 + width, acc8_1);
        }
        if (rows > 9)
        {
            TOps.Store(cRow9, acc9_0); TOps.Store(cRow9 + width, acc9_1);
        }
        if (rows > 10)
        {
            TOps.Store(cRow10, acc10_0); TOps.Store(cRow10 + width, acc10_1);
        }
        if (rows > 11)
        {
            TOps.Store(cRow11, acc11_0); TOps.Store(cRow11 + width, acc11_1);
        }
    }

    /// <summary>
    /// A tile of 12 rows x 1 vector of c: 12 accumulators held in registers over the whole
    /// reduction. Rows at or past <paramref name="rows"/> repeat the last valid row and are not stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile12x1<TOps, TVector>(float* a, nint aRowStride, nint aDepthStride, float* b, nint bStride,
        float* c, nint cStride, int rows, int depth, TileMode mode)
        where TOps : struct, IGemmVector<TVector>
        where TVector : struct
    {
        Debug.Assert(rows >= 1 && rows <= 12 && depth >= 0);
        nint width = TOps.Count;
        float* aRow0 = a, cRow0 = c;
        nint row1 = Math.Min(1, rows - 1);
        float* aRow1 = a + row1 * aRowStride, cRow1 = c + row1 * cStride;
        nint row2 = Math.Min(2, rows - 1);
        float* aRow2 = a + row2 * aRowStride, cRow2 = c + row2 * cStride;
        nint row3 = Math.Min(3, rows - 1);
        float* aRow3 = a + row3 * aRowStride, cRow3 = c + row3 * cStride;
        nint row4 = Math.Min(4, rows - 1);
        float* aRow4 = a + row4 * aRowStride, cRow4 = c + row4 * cStride;
        nint row5 = Math.Min(5, rows - 1);
        float* aRow5 = a + row5 * aRowStride, cRow5 = c + row5 * cStride;
        nint row6 = Math.Min(6, rows - 1);
        float* aRow6 = a + row6 * aRowStride, cRow6 = c + row6 * cStride;
        nint row7 = Math.Min(7, rows - 1);
        float* aRow7 = a + row7 * aRowStride, cRow7 = c + row7 * cStride;
        nint row8 = Math.Min(8, rows - 1);
        float* aRow8 = a + row8 * aRowStride, cRow8 = c + row8 * cStride;
        nint row9 = Math.Min(9, rows - 1);
        float* aRow9 = a + row9 * aRowStride, cRow9 = c + row9 * cStride;
        nint row10 = Math.Min(10, rows - 1);
        float* aRow10 = a + row10 * aRowStride, cRow10 = c + row10 * cStride;
        nint row11 = Math.Min(11, rows - 1);
        float* aRow11 = a + row11 * aRowStride, cRow11 = c + row11 * cStride;
        TVector acc0_0, acc1_0, acc2_0, acc3_0, acc4_0, acc5_0, acc6_0, acc7_0, acc8_0, acc9_0, acc10_0, acc11_0;
        if (mode == TileMode.Accumulate)
        {
            acc0_0 = TOps.Load(cRow0);
            acc1_0 = TOps.Load(cRow1);
            acc2_0 = TOps.Load(cRow2);
            acc3_0 = TOps.Load(cRow3);
            acc4_0 = TOps.Load(cRow4);
            acc5_0 = TOps.Load(cRow5);
            acc6_0 = TOps.Load(cRow6);
            acc7_0 = TOps.Load(cRow7);
            acc8_0 = TOps.Load(cRow8);
            acc9_0 = TOps.Load(cRow9);
            acc10_0 = TOps.Load(cRow10);
            acc11_0 = TOps.Load(cRow11);
        }
        else
        {
            acc0_0 = TOps.Zero;
            acc1_0 = TOps.Zero;
            acc2_0 = TOps.Zero;
            acc3_0 = TOps.Zero;
            acc4_0 = TOps.Zero;
            acc5_0 = TOps.Zero;
            acc6_0 = TOps.Zero;
            acc7_0 = TOps.Zero;
            acc8_0 = TOps.Zero;
            acc9_0 = TOps.Zero;
            acc10_0 = TOps.Zero;
            acc11_0 = TOps.Zero;
        }
        nint offset = 0;
        for (int p = 0; p < depth; p++)
        {
            TVector b0 = TOps.Load(b);
            TVector x;
            x = TOps.Broadcast(aRow0 + offset); acc0_0 = TOps.MultiplyAdd(x, b0, acc0_0);
            x = TOps.Broadcast(aRow1 + offset); acc1_0 = TOps.MultiplyAdd(x, b0, acc1_0);
            x = TOps.Broadcast(aRow2 + offset); acc2_0 = TOps.MultiplyAdd(x, b0, acc2_0);
            x = TOps.Broadcast(aRow3 + offset); acc3_0 = TOps.MultiplyAdd(x, b0, acc3_0);
            x = TOps.Broadcast(aRow4 + offset); acc4_0 = TOps.MultiplyAdd(x, b0, acc4_0);
            x = TOps.Broadcast(aRow5 + offset); acc5_0 = TOps.MultiplyAdd(x, b0, acc5_0);
            x = TOps.Broadcast(aRow6 + offset); acc6_0 = TOps.MultiplyAdd(x, b0, acc6_0);
            x = TOps.Broadcast(aRow7 + offset); acc7_0 = TOps.MultiplyAdd(x, b0, acc7_0);
            x = TOps.Broadcast(aRow8 + offset); acc8_0 = TOps.MultiplyAdd(x, b0, acc8_0);
            x = TOps.Broadcast(aRow9 + offset); acc9_0 = TOps.MultiplyAdd(x, b0, acc9_0);
            x = TOps.Broadcast(aRow10 + offset); acc10_0 = TOps.MultiplyAdd(x, b0, acc10_0);
            x = TOps.Broadcast(aRow11 + offset); acc11_0 = TOps.MultiplyAdd(x, b0, acc11_0);
            b += bStride;
            offset += aDepthStride;
        }
        if (mode == TileMode.AddAfter)
        {
            acc0_0 = TOps.Add(TOps.Load(cRow0), acc0_0);
            acc1_0 = TOps.Add(TOps.Load(cRow1), acc1_0);
            acc2_0 = TOps.Add(TOps.Load(cRow2), acc2_0);
            acc3_0 = TOps.Add(TOps.Load(cRow3), acc3_0);
            acc4_0 = TOps.Add(TOps.Load(cRow4), acc4_0);
            acc5_0 = TOps.Add(TOps.Load(cRow5), acc5_0);
            acc6_0 = TOps.Add(TOps.Load(cRow6), acc6_0);
            acc7_0 = TOps.Add(TOps.Load(cRow7), acc7_0);
            acc8_0 = TOps.Add(TOps.Load(cRow8), acc8_0);
            acc9_0 = TOps.Add(TOps.Load(cRow9), acc9_0);
            acc10_0 = TOps.Add(TOps.Load(cRow10), acc10_0);
            acc11_0 = TOps.Add(TOps.Load(cRow11), acc11_0);
        }
        TOps.Store(cRow0, acc0_0);
        if (rows > 1)
        {
            TOps.Store(cRow1, acc1_0);
        }
        if (rows > 2)
        {
            TOps.Store(cRow2, acc2_0);
        }
        if (rows > 3)
        {
            TOps.Store(cRow3, acc3_0);
        }
        if (rows > 4)
        {
            TOps.Store(cRow4, acc4_0);
        }
        if (rows > 5)
        {
            TOps.Store(cRow5, acc5_0);
        }
        if (rows > 6)
        {
            TOps.Store(cRow6, acc6_0);
        }
        if (rows > 7)
        {
            TOps.Store(cRow7, acc7_0);
        }
        if (rows > 8)
        {
            TOps.Store(cRow8, acc8_0);
        }
        if (rows > 9)
        {
            TOps.Store(cRow9, acc9_0);
        }
        if (rows > 10)
        {
            TOps.Store(cRow10, acc10_0);
        }
        if (rows > 11)
        {
            TOps.Store(cRow11, acc11_0);
        }
    }

    /// <summary>
    /// The column tail: 12 rows x <paramref name="columns"/> (1 to 8) columns of c with masked 256-bit loads and
    /// stores, the same fused multiply-adds in the same order as the full tiles.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileMasked12(float* a, nint aRowStride, nint aDepthStride, float* b, nint bStride,
        float* c, nint cStride, int rows, int columns, int depth, TileMode mode)
    {
        Debug.Assert(rows >= 1 && rows <= 12 && columns >= 1 && columns <= 8 && depth >= 0);
        Vector256<float> mask = Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(columns)).AsSingle();
        float* aRow0 = a, cRow0 = c;
        nint row1 = Math.Min(1, rows - 1);
        float* aRow1 = a + row1 * aRowStride, cRow1 = c + row1 * cStride;
        nint row2 = Math.Min(2, rows - 1);
        float* aRow2 = a + row2 * aRowStride, cRow2 = c + row2 * cStride;
        nint row3 = Math.Min(3, rows - 1);
        float* aRow3 = a + row3 * aRowStride, cRow3 = c + row3 * cStride;
        nint row4 = Math.Min(4, rows - 1);
        float* aRow4 = a + row4 * aRowStride, cRow4 = c + row4 * cStride;
        nint row5 = Math.Min(5, rows - 1);
        float* aRow5 = a + row5 * aRowStride, cRow5 = c + row5 * cStride;
        nint row6 = Math.Min(6, rows - 1);
        float* aRow6 = a + row6 * aRowStride, cRow6 = c + row6 * cStride;
        nint row7 = Math.Min(7, rows - 1);
        float* aRow7 = a + row7 * aRowStride, cRow7 = c + row7 * cStride;
        nint row8 = Math.Min(8, rows - 1);
        float* aRow8 = a + row8 * aRowStride, cRow8 = c + row8 * cStride;
        nint row9 = Math.Min(9, rows - 1);
        float* aRow9 = a + row9 * aRowStride, cRow9 = c + row9 * cStride;
        nint row10 = Math.Min(10, rows - 1);
        float* aRow10 = a + row10 * aRowStride, cRow10 = c + row10 * cStride;
        nint row11 = Math.Min(11, rows - 1);
        float* aRow11 = a + row11 * aRowStride, cRow11 = c + row11 * cStride;
        Vector256<float> acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7, acc8, acc9, acc10, acc11;
        if (mode == TileMode.Accumulate)
        {
            acc0 = Avx.MaskLoad(cRow0, mask);
            acc1 = Avx.MaskLoad(cRow1, mask);
            acc2 = Avx.MaskLoad(cRow2, mask);
            acc3 = Avx.MaskLoad(cRow3, mask);
            acc4 = Avx.MaskLoad(cRow4, mask);
            acc5 = Avx.MaskLoad(cRow5, mask);
            acc6 = Avx.MaskLoad(cRow6, mask);
            acc7 = Avx.MaskLoad(cRow7, mask);
            acc8 = Avx.MaskLoad(cRow8, mask);
            acc9 = Avx.MaskLoad(cRow9, mask);
            acc10 = Avx.MaskLoad(cRow10, mask);
            acc11 = Avx.MaskLoad(cRow11, mask);
        }
        else
        {
            acc0 = Vector256<float>.Zero;
            acc1 = Vector256<float>.Zero;
            acc2 = Vector256<float>.Zero;
            acc3 = Vector256<float>.Zero;
            acc4 = Vector256<float>.Zero;
            acc5 = Vector256<float>.Zero;
            acc6 = Vector256<float>.Zero;
            acc7 = Vector256<float>.Zero;
            acc8 = Vector256<float>.Zero;
            acc9 = Vector256<float>.Zero;
            acc10 = Vector256<float>.Zero;
            acc11 = Vector256<float>.Zero;
        }
        nint offset = 0;
        for (int p = 0; p < depth; p++)
        {
            Vector256<float> b0 = Avx.MaskLoad(b, mask);
            acc0 = Fma.MultiplyAdd(Vector256.Create(aRow0[offset]), b0, acc0);
            acc1 = Fma.MultiplyAdd(Vector256.Create(aRow1[offset]), b0, acc1);
            acc2 = Fma.MultiplyAdd(Vector256.Create(aRow2[offset]), b0, acc2);
            acc3 = Fma.MultiplyAdd(Vector256.Create(aRow3[offset]), b0, acc3);
            acc4 = Fma.MultiplyAdd(Vector256.Create(aRow4[offset]), b0, acc4);
            acc5 = Fma.MultiplyAdd(Vector256.Create(aRow5[offset]), b0, acc5);
            acc6 = Fma.MultiplyAdd(Vector256.Create(aRow6[offset]), b0, acc6);
            acc7 = Fma.MultiplyAdd(Vector256.Create(aRow7[offset]), b0, acc7);
            acc8 = Fma.MultiplyAdd(Vector256.Create(aRow8[offset]), b0, acc8);
            acc9 = Fma.MultiplyAdd(Vector256.Create(aRow9[offset]), b0, acc9);
            acc10 = Fma.MultiplyAdd(Vector256.Create(aRow10[offset]), b0, acc10);
            acc11 = Fma.MultiplyAdd(Vector256.Create(aRow11[offset]), b0, acc11);
            b += bStride;
            offset += aDepthStride;
        }
        if (mode == TileMode.AddAfter)
        {
            acc0 = Avx.Add(Avx.MaskLoad(cRow0, mask), acc0);
            acc1 = Avx.Add(Avx.MaskLoad(cRow1, mask), acc1);
            acc2 = Avx.Add(Avx.MaskLoad(cRow2, mask), acc2);
            acc3 = Avx.Add(Avx.MaskLoad(cRow3, mask), acc3);
            acc4 = Avx.Add(Avx.MaskLoad(cRow4, mask), acc4);
            acc5 = Avx.Add(Avx.MaskLoad(cRow5, mask), acc5);
            acc6 = Avx.Add(Avx.MaskLoad(cRow6, mask), acc6);
            acc7 = Avx.Add(Avx.MaskLoad(cRow7, mask), acc7);
            acc8 = Avx.Add(Avx.MaskLoad(cRow8, mask), acc8);
            acc9 = Avx.Add(Avx.MaskLoad(cRow9, mask), acc9);
            acc10 = Avx.Add(Avx.MaskLoad(cRow10, mask), acc10);
            acc11 = Avx.Add(Avx.MaskLoad(cRow11, mask), acc11);
        }
        Avx.MaskStore(cRow0, mask, acc0);
        if (rows > 1)
        {
            Avx.MaskStore(cRow1, mask, acc1);
        }
        if (rows > 2)
        {
            Avx.MaskStore(cRow2, mask, acc2);
        }
        if (rows > 3)
        {
            Avx.MaskStore(cRow3, mask, acc3);
        }
        if (rows > 4)
        {
            Avx.MaskStore(cRow4, mask, acc4);
        }
        if (rows > 5)
        {
            Avx.MaskStore(cRow5, mask, acc5);
        }
        if (rows > 6)
        {
            Avx.MaskStore(cRow6, mask, acc6);
        }
        if (rows > 7)
        {
            Avx.MaskStore(cRow7, mask, acc7);
        }
        if (rows > 8)
        {
            Avx.MaskStore(cRow8, mask, acc8);
        }
        if (rows > 9)
        {
            Avx.MaskStore(cRow9, mask, acc9);
        }
        if (rows > 10)
        {
            Avx.MaskStore(cRow10, mask, acc10);
        }
        if (rows > 11)
        {
            Avx.MaskStore(cRow11, mask, acc11);
        }
    }
}
