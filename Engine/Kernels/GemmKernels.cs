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
    /// <summary>Rows of c per row block of Multiply and MultiplyTransposeB (its slice of a and c stay in L2).</summary>
    private const int RowBlock = 144;

    /// <summary>
    /// Depth per block of Multiply (measured 128-576 on the model's shapes, 192 ahead within the
    /// noise): a 64-float-wide panel of b (48 KiB) stays near L1 while every row tile of the row
    /// block streams past it, and c's block is reloaded from L1/L2 only a few times.
    /// </summary>
    private const int MultiplyDepthLimit = 192;

    /// <summary>
    /// Depth (rows of a and b) per block of MultiplyTransposeA, measured best of 32-512: the
    /// 64-column strip of b stays in L1 across all the tiles of c.
    /// </summary>
    private const int TransposeADepthLimit = 64;

    /// <summary>c[M, N] (+)= a[M, K] · b[K, N].</summary>
    internal static void Multiply<TOps, TVector>(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, Span<float> c, bool accumulate)
        where TOps : struct, IGemmVector<TVector>
        where TVector : struct
    {
        Debug.Assert(a.Length >= (long)m * k && b.Length >= (long)k * n && c.Length >= (long)m * n);
        fixed (float* left = a, right = b, result = c)
        {
            Product<TOps, TVector>(left, k, 1, right, n, result, n, m, n, k, RowBlock, DepthBlock(k, MultiplyDepthLimit), depthOuter: false,
                accumulate ? TileMode.Accumulate : TileMode.Overwrite);
        }
    }

    /// <summary>
    /// c[M, first..first + count) = a[M, K] · b[K, first..first + count): a panel of the columns of
    /// c[M, N] = a · b[K, N], each element the same chain as in <see cref="Multiply{TOps, TVector}"/>.
    /// </summary>
    internal static void MultiplyColumns<TOps, TVector>(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, Span<float> c,
        int first, int count)
        where TOps : struct, IGemmVector<TVector>
        where TVector : struct
    {
        Debug.Assert(a.Length >= (long)m * k && b.Length >= (long)k * n && c.Length >= (long)m * n && first >= 0 && first + count <= n);
        fixed (float* left = a, right = b, result = c)
        {
            Product<TOps, TVector>(left, k, 1, right + first, n, result + first, n, m, count, k, RowBlock, DepthBlock(k, MultiplyDepthLimit),
                depthOuter: false, TileMode.Overwrite);
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
            // Rows of c are columns of a (consecutive floats); the depth walks down the rows of a and
            // b, which are large, so depth blocks are the outer loop and c (small) stays in cache.
            Product<TOps, TVector>(left, 1, k, right, n, result, n, k, n, m, Math.Max(k, 1), DepthBlock(m, TransposeADepthLimit), depthOuter: true,
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
        fixed (float* left = a, right = b, packed = transposed, result = c)
        {
            Transpose(right, k, n, packed);
            // The sum is added to c after the chain, as the reference does: one depth block.
            Product<TOps, TVector>(left, n, 1, packed, k, result, k, m, k, n, RowBlock, Math.Max(n, 1), depthOuter: false,
                accumulate ? TileMode.AddAfter : TileMode.Overwrite);
        }
    }

    /// <summary>destination[N, K] = source[K, N]ᵀ, in 16 x 16 blocks.</summary>
    internal static void Transpose(float* source, int k, int n, float* destination)
    {
        const int Block = 16;
        for (int row = 0; row < k; row += Block)
        {
            int rowEnd = Math.Min(row + Block, k);
            for (int column = 0; column < n; column += Block)
            {
                int columnEnd = Math.Min(column + Block, n);
                for (int j = column; j < columnEnd; j++)
                {
                    float* from = source + (nint)row * n + j;
                    float* to = destination + (nint)j * k;
                    for (int i = row; i < rowEnd; i++, from += n)
                    {
                        to[i] = *from;
                    }
                }
            }
        }
    }

    /// <summary>Depth per block: equal blocks of at most <paramref name="limit"/>.</summary>
    internal static int DepthBlock(int depth, int limit)
    {
        int blocks = Math.Max(1, (depth + limit - 1) / limit);
        return Math.Max(1, (depth + blocks - 1) / blocks);
    }

    /// <summary>
    /// c (rows x columns) = a · b by <paramref name="mode"/>, in row blocks and depth blocks (each
    /// depth block continues the previous block's chains through c), with the depth blocks outside
    /// the row blocks when <paramref name="depthOuter"/>. The operands must be dense: a's rows
    /// <paramref name="depth"/> floats apart (row-outer) or its depth steps <paramref name="rows"/>
    /// floats apart (depth-outer), b's rows <paramref name="columns"/> floats apart.
    /// </summary>
    private static void Product<TOps, TVector>(float* a, nint aRowStride, nint aDepthStride, float* b, nint bStride,
        float* c, nint cStride, int rows, int columns, int depth, int rowBlock, int depthBlock, bool depthOuter, TileMode mode)
        where TOps : struct, IGemmVector<TVector>
        where TVector : struct
    {
        Debug.Assert(rowBlock >= 1 && depthBlock >= 1 && (mode != TileMode.AddAfter || depthBlock >= depth));
        int rowBlocks = (rows + rowBlock - 1) / rowBlock;
        int depthBlocks = Math.Max(1, (depth + depthBlock - 1) / depthBlock);
        int outerCount = depthOuter ? depthBlocks : rowBlocks;
        int innerCount = depthOuter ? rowBlocks : depthBlocks;
        int tileWidth = (TOps.Count == 8 ? 2 : 4) * TOps.Count;
        int tilesPerOuter = innerCount * ((Math.Min(rowBlock, rows) + 5) / 6) * ((columns + tileWidth - 1) / tileWidth);
        for (int outer = 0; outer < outerCount; outer++)
        {
            // While this outer block computes, stream the next one's share of the large operands
            // (a, and for depth-outer also b) towards L2: contiguous ranges the tiles would
            // otherwise reach in short, interleaved runs that the hardware prefetchers miss.
            Prefetcher prefetch = default;
            if (outer + 1 < outerCount)
            {
                if (depthOuter)
                {
                    int start = (outer + 1) * depthBlock, count = Math.Min(depthBlock, depth - start);
                    prefetch = new Prefetcher(a + start * aDepthStride, (nint)count * aDepthStride,
                        b + start * bStride, (nint)count * bStride, tilesPerOuter, Math.Min(depthBlock, depth));
                }
                else
                {
                    int start = (outer + 1) * rowBlock, count = Math.Min(rowBlock, rows - start);
                    prefetch = new Prefetcher(a + start * aRowStride, (nint)count * aRowStride, null, 0, tilesPerOuter, Math.Min(depthBlock, depth));
                }
            }
            for (int inner = 0; inner < innerCount; inner++)
            {
                int row = (depthOuter ? inner : outer) * rowBlock;
                int depthStart = (depthOuter ? outer : inner) * depthBlock;
                Block<TOps, TVector>(a + row * aRowStride + depthStart * aDepthStride, aRowStride, aDepthStride,
                    b + depthStart * bStride, bStride, c + row * cStride, cStride,
                    Math.Min(rowBlock, rows - row), columns, Math.Min(depthBlock, depth - depthStart),
                    depthStart == 0 ? mode : TileMode.Accumulate, ref prefetch);
            }
        }
    }

    /// <summary>Walks up to two float ranges in cache lines, a fixed number of lines per tile (prefetcht2: measured a little ahead of t0 and t1).</summary>
    private struct Prefetcher
    {
        private const int LineFloats = 16;
        private float* _first, _firstEnd, _second, _secondEnd;
        private readonly int _linesPerTile;

        /// <summary>
        /// Spreads the two ranges over <paramref name="tiles"/> tiles of <paramref name="depth"/>
        /// steps; when that needs more than a line every other step (a short depth, as conv1's,
        /// whose plain sequential stream the hardware already follows) it prefetches nothing.
        /// </summary>
        public Prefetcher(float* first, nint firstLength, float* second, nint secondLength, int tiles, int depth)
        {
            _first = first;
            _firstEnd = first + firstLength;
            _second = second;
            _secondEnd = second + secondLength;
            _linesPerTile = (int)((firstLength + secondLength) / LineFloats / Math.Max(tiles, 1)) + 1;
            if (_linesPerTile > depth / 2)
            {
                _first = _firstEnd;
                _second = _secondEnd;
            }
        }

        /// <summary>Prefetches the next lines (none once both ranges are done, or without SSE).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Next()
        {
            if (!Sse.IsSupported)
            {
                return;
            }
            for (int line = 0; line < _linesPerTile; line++)
            {
                if (_first < _firstEnd)
                {
                    Sse.Prefetch2(_first);
                    _first += LineFloats;
                }
                else if (_second < _secondEnd)
                {
                    Sse.Prefetch2(_second);
                    _second += LineFloats;
                }
                else
                {
                    return;
                }
            }
        }
    }

    /// <summary>The AVX2 tiles' copy of a 16-column panel of b: one buffer per thread, grown to the largest depth seen, never shrunk.</summary>
    [ThreadStatic]
    private static float[]? t_panel;

    private static float[] PanelBuffer(int length)
    {
        if (t_panel is null || t_panel.Length < length)
        {
            t_panel = GC.AllocateUninitializedArray<float>(Math.Max(length, MultiplyDepthLimit * 16), pinned: true);
        }
        return t_panel;
    }

    /// <summary>One row block x one depth block: column panels outside, row tiles inside.</summary>
    private static void Block<TOps, TVector>(float* a, nint aRowStride, nint aDepthStride, float* b, nint bStride,
        float* c, nint cStride, int rows, int columns, int depth, TileMode mode, ref Prefetcher prefetch)
        where TOps : struct, IGemmVector<TVector>
        where TVector : struct
    {
        int width = TOps.Count;
        int column = 0;
        if (width == 8 && columns >= 16)
        {
            // AVX2 has 16 registers: tiles of 12 accumulators, over a 16-column panel of b copied
            // together first (b's rows, bStride floats apart, would fall on a few L1 sets).
            fixed (float* panel = PanelBuffer(depth * 16))
            {
                for (; column + 2 * width <= columns; column += 2 * width)
                {
                    float* source = b + column;
                    for (int p = 0; p < depth; p++, source += bStride)
                    {
                        TOps.Store(panel + p * 16, TOps.Load(source));
                        TOps.Store(panel + p * 16 + 8, TOps.Load(source + 8));
                    }
                    for (int row = 0; row < rows; row += 6)
                    {
                        prefetch.Next();
                        PrefetchNextTile(c + column, cStride, row + 6, rows, 16, mode);
                        Tile6x2<TOps, TVector>(a + row * aRowStride, aRowStride, aDepthStride, panel, 16,
                            c + row * cStride + column, cStride, Math.Min(6, rows - row), depth, mode);
                    }
                }
            }
        }
        for (; column + 4 * width <= columns; column += 4 * width)
        {
            for (int row = 0; row < rows; row += 6)
            {
                prefetch.Next();
                PrefetchNextTile(c + column, cStride, row + 6, rows, 4 * width, mode);
                Tile6x4<TOps, TVector>(a + row * aRowStride, aRowStride, aDepthStride, b + column, bStride,
                    c + row * cStride + column, cStride, Math.Min(6, rows - row), depth, mode);
            }
        }
        if (column + 2 * width <= columns)
        {
            for (int row = 0; row < rows; row += 12)
            {
                prefetch.Next();
                Tile12x2<TOps, TVector>(a + row * aRowStride, aRowStride, aDepthStride, b + column, bStride,
                    c + row * cStride + column, cStride, Math.Min(12, rows - row), depth, mode);
            }
            column += 2 * width;
        }
        if (column + width <= columns)
        {
            for (int row = 0; row < rows; row += 12)
            {
                prefetch.Next();
                Tile12x1<TOps, TVector>(a + row * aRowStride, aRowStride, aDepthStride, b + column, bStride,
                    c + row * cStride + column, cStride, Math.Min(12, rows - row), depth, mode);
            }
            column += width;
        }
        for (; column < columns; column += 8)
        {
            for (int row = 0; row < rows; row += 12)
            {
                prefetch.Next();
                TileMasked12(a + row * aRowStride, aRowStride, aDepthStride, b + column, bStride,
                    c + row * cStride + column, cStride, Math.Min(12, rows - row), Math.Min(8, columns - column), depth, mode);
            }
        }
    }

    /// <summary>
    /// The next 6-row tile's <paramref name="floats"/> columns of c (rows from <paramref name="row"/>), which that tile reads first
    /// unless it overwrites them, on their way while this tile's chains run. Dense's kernel gradient (2 MB of c, accumulated) took
    /// 0.79-0.89 of the time with the AVX2 tiles, and 0.91-0.94 of its backward's with the 512-bit ones (4 A/B pairs, 2 threads).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchNextTile(float* c, nint cStride, int row, int rows, int floats, TileMode mode)
    {
        if (mode == TileMode.Overwrite || row >= rows || !Sse.IsSupported)
        {
            return;
        }
        float* next = c + row * cStride;
        for (int i = 0; i < Math.Min(6, rows - row); i++, next += cStride)
        {
            for (int line = 0; line < floats; line += 16)
            {
                Sse.Prefetch0(next + line);
            }
            Sse.Prefetch0(next + floats - 1);
        }
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
    /// A tile of 6 rows x 2 vectors of c: 12 accumulators (the AVX2 tile: 16 registers) held in registers over the whole
    /// reduction. Rows at or past <paramref name="rows"/> repeat the last valid row and are not stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile6x2<TOps, TVector>(float* a, nint aRowStride, nint aDepthStride, float* b, nint bStride,
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
        TVector acc0_0, acc0_1, acc1_0, acc1_1, acc2_0, acc2_1, acc3_0, acc3_1, acc4_0, acc4_1, acc5_0, acc5_1;
        if (mode == TileMode.Accumulate)
        {
            acc0_0 = TOps.Load(cRow0); acc0_1 = TOps.Load(cRow0 + width);
            acc1_0 = TOps.Load(cRow1); acc1_1 = TOps.Load(cRow1 + width);
            acc2_0 = TOps.Load(cRow2); acc2_1 = TOps.Load(cRow2 + width);
            acc3_0 = TOps.Load(cRow3); acc3_1 = TOps.Load(cRow3 + width);
            acc4_0 = TOps.Load(cRow4); acc4_1 = TOps.Load(cRow4 + width);
            acc5_0 = TOps.Load(cRow5); acc5_1 = TOps.Load(cRow5 + width);
        }
        else
        {
            acc0_0 = TOps.Zero; acc0_1 = TOps.Zero;
            acc1_0 = TOps.Zero; acc1_1 = TOps.Zero;
            acc2_0 = TOps.Zero; acc2_1 = TOps.Zero;
            acc3_0 = TOps.Zero; acc3_1 = TOps.Zero;
            acc4_0 = TOps.Zero; acc4_1 = TOps.Zero;
            acc5_0 = TOps.Zero; acc5_1 = TOps.Zero;
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
