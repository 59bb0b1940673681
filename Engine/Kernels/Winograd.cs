using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Kernels;

/// <summary>
/// 3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray, 2016), on NHWC
/// examples padded as their <see cref="ConvGeometry"/> says (the zeros read in place, never copied).
/// Each 2x2 block of output pixels (a tile) is computed from the 4x4 block of padded input under it:
/// the input block and the kernel are transformed into 16 points, multiplied point by point and summed
/// over the channels (16 products [tiles, C] x [C, F]), and the 16 sums are transformed back into the
/// 2x2 outputs. That is 16 multiply-adds per tile, channel and filter where the convolution takes 36:
/// 2.25x fewer.
/// </summary>
/// <remarks>
/// With B, G and A the F(2x2, 3x3) matrices, V = Bᵀ·d·B (input block d, 4x4), U = G·g·Gᵀ (kernel g, 3x3),
/// Y = Aᵀ·M·A with M = Σ over channels of V ⊙ U:
/// Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1], Aᵀ = [1 1 1 0; 0 1 -1 -1].
/// Every value is one fixed chain of operations, the same in the SIMD kernels and in their scalar twins
/// (<see cref="ForwardReference"/>, ...), so the bits depend neither on the thread count nor on which of
/// the two runs; but it is not the direct convolution's chain, from which the results differ by rounding.
/// </remarks>
public static unsafe class Winograd
{
    /// <summary>The 4x4 points of a transformed tile.</summary>
    public const int Points = 16;

    /// <summary>Filters per packed panel: the AVX2 product tile's two vectors.</summary>
    private const int Panel = 16;

    /// <summary>Tiles transformed, multiplied and transformed back together (a multiple of the product tile's 6 rows).</summary>
    private const int BlockTiles = 12;

    /// <summary>Rows of the product tiles (6 rows x 16 filters: 12 accumulators of the 16 AVX2 registers).</summary>
    private const int RowTile = 6;

    /// <summary>The largest C and F the SIMD kernels take (their zero and discard rows are on the stack).</summary>
    public const int MaxWidth = 4096;

    /// <summary>
    /// True when <see cref="Forward"/> runs its SIMD kernels for this geometry and filter count: a 3x3 kernel with
    /// strides of 1, C a multiple of 8 and F a multiple of 16 (both at most <see cref="MaxWidth"/>), on a
    /// machine with AVX2 and FMA. Otherwise the methods run their scalar twins.
    /// </summary>
    public static bool IsSupported(in ConvGeometry geometry, int filters) =>
        geometry.KernelHeight == 3 && geometry.KernelWidth == 3 && geometry.StrideHeight == 1 && geometry.StrideWidth == 1
        && geometry.Channels > 0 && geometry.Channels % Vector256<float>.Count == 0 && geometry.Channels <= MaxWidth
        && filters > 0 && filters % Panel == 0 && filters <= MaxWidth
        && Vector256.IsHardwareAccelerated && Fma.IsSupported;

    /// <summary>The length of a transformed kernel: 16 · C · F.</summary>
    public static int TransformedLength(int channels, int filters) => Points * channels * filters;

    /// <summary>Output tiles (2x2 blocks, the last row and column possibly cut) of one example.</summary>
    public static int TilesPerExample(in ConvGeometry geometry) => ((geometry.OutputHeight + 1) / 2) * ((geometry.OutputWidth + 1) / 2);

    /// <summary>
    /// transformed[16][F / 16][C][16] = U = G·g·Gᵀ of kernel[3, 3, C, F] (HWIO), point by point, laid out
    /// as panels of 16 filters (each point's panel rows consecutive) for the product tiles.
    /// </summary>
    public static void TransformKernel(ReadOnlySpan<float> kernel, int channels, int filters, Span<float> transformed)
    {
        CheckKernel(kernel, channels, filters, transformed);
        if (!Vector256.IsHardwareAccelerated)
        {
            TransformKernelReference(kernel, channels, filters, transformed);
            return;
        }
        var half = Vector256.Create(0.5f);
        fixed (float* g = kernel, u = transformed)
        {
            nint tapStride = (nint)channels * filters;
            for (int c = 0; c < channels; c++)
            {
                for (int f = 0; f < filters; f += Vector256<float>.Count)
                {
                    float* k = g + (nint)c * filters + f;
                    // Rows of G·g (4 rows x 3 columns), then the columns of (G·g)·Gᵀ.
                    Vector256<float> g00 = Vector256.Load(k), g01 = Vector256.Load(k + tapStride), g02 = Vector256.Load(k + 2 * tapStride);
                    Vector256<float> g10 = Vector256.Load(k + 3 * tapStride), g11 = Vector256.Load(k + 4 * tapStride), g12 = Vector256.Load(k + 5 * tapStride);
                    Vector256<float> g20 = Vector256.Load(k + 6 * tapStride), g21 = Vector256.Load(k + 7 * tapStride), g22 = Vector256.Load(k + 8 * tapStride);
                    Vector256<float> a10 = (g00 + g10 + g20) * half, a11 = (g01 + g11 + g21) * half, a12 = (g02 + g12 + g22) * half;
                    Vector256<float> a20 = (g00 - g10 + g20) * half, a21 = (g01 - g11 + g21) * half, a22 = (g02 - g12 + g22) * half;
                    float* p = u + ((nint)(f / Panel) * channels + c) * Panel + f % Panel;
                    nint point = (nint)channels * filters;
                    StoreRow(p, point, g00, g01, g02, half);
                    StoreRow(p + 4 * point, point, a10, a11, a12, half);
                    StoreRow(p + 8 * point, point, a20, a21, a22, half);
                    StoreRow(p + 12 * point, point, g20, g21, g22, half);
                }
            }
        }
    }

    /// <summary>Columns of one row of G·g times Gᵀ: the row's 4 points, <paramref name="point"/> floats apart.</summary>
    private static void StoreRow(float* p, nint point, Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> half)
    {
        a0.Store(p);
        ((a0 + a1 + a2) * half).Store(p + point);
        ((a0 - a1 + a2) * half).Store(p + 2 * point);
        a2.Store(p + 3 * point);
    }

    /// <summary>The scalar twin of <see cref="TransformKernel"/>: the same operations, value by value.</summary>
    public static void TransformKernelReference(ReadOnlySpan<float> kernel, int channels, int filters, Span<float> transformed)
    {
        CheckKernel(kernel, channels, filters, transformed);
        int tapStride = channels * filters;
        Span<float> a = stackalloc float[12];
        for (int c = 0; c < channels; c++)
        {
            for (int f = 0; f < filters; f++)
            {
                int k = c * filters + f;
                for (int j = 0; j < 3; j++)
                {
                    float g0 = kernel[k + j * tapStride], g1 = kernel[k + (3 + j) * tapStride], g2 = kernel[k + (6 + j) * tapStride];
                    a[j] = g0;
                    a[3 + j] = (g0 + g1 + g2) * 0.5f;
                    a[6 + j] = (g0 - g1 + g2) * 0.5f;
                    a[9 + j] = g2;
                }
                for (int r = 0; r < 4; r++)
                {
                    float a0 = a[3 * r], a1 = a[3 * r + 1], a2 = a[3 * r + 2];
                    int p = TransformedIndex(r * 4, c, f, channels, filters);
                    transformed[p] = a0;
                    transformed[p + tapStride] = (a0 + a1 + a2) * 0.5f;
                    transformed[p + 2 * tapStride] = (a0 - a1 + a2) * 0.5f;
                    transformed[p + 3 * tapStride] = a2;
                }
            }
        }
    }

    /// <summary>The index of point <paramref name="point"/>, channel c, filter f in a transformed kernel.</summary>
    private static int TransformedIndex(int point, int c, int f, int channels, int filters) =>
        point * channels * filters + ((f / Panel) * channels + c) * Panel + f % Panel;

    /// <summary>
    /// output[N, OH, OW, F] = the 3x3 stride-1 convolution of input[N, H, W, C] as <paramref name="geometry"/> pads it
    /// (zeros read in place: no padded copy) with the kernel <see cref="TransformKernel"/> produced, plus
    /// <paramref name="bias"/> (optional) and through ReLU when <paramref name="relu"/>.
    /// </summary>
    public static void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> transformedKernel, ReadOnlySpan<float> bias,
        in ConvGeometry geometry, int filters, int examples, bool relu, Span<float> output)
    {
        CheckForward(input, transformedKernel, bias, geometry, filters, examples, output);
        if (!IsSupported(geometry, filters))
        {
            ForwardReference(input, transformedKernel, bias, geometry, filters, examples, relu, output);
            return;
        }
        fixed (float* outputPointer = output)
        {
            ForwardCore(input, transformedKernel, bias, geometry, filters, examples, relu, outputPointer, null, null, default);
        }
    }

    /// <summary>
    /// Whether <paramref name="pool"/> (the geometry of a max pool over this convolution's output) takes each
    /// 2x2 output tile as one window, so that <see cref="ForwardPooled"/> can pool the tiles as they are made:
    /// a 2x2 pool with strides of 2, no padding before, covering the output (SAME, or VALID with even sizes).
    /// </summary>
    public static bool PoolsTiles(in ConvGeometry geometry, int filters, in ConvGeometry pool) =>
        MaxPool.PoolsBlocks2x2(geometry.OutputHeight, geometry.OutputWidth, filters, pool);

    /// <summary>
    /// <see cref="Forward"/> followed by <see cref="MaxPool.Forward"/> over its output, without the output:
    /// each tile is pooled as it is transformed back (<see cref="PoolsTiles"/> must hold). pooled[N, POH, POW, F]
    /// and argmax (unless empty) receive the same values and winners, indices into the convolution's
    /// [OH, OW, F] output of each example, as that pair of calls.
    /// </summary>
    public static void ForwardPooled(ReadOnlySpan<float> input, ReadOnlySpan<float> transformedKernel, ReadOnlySpan<float> bias,
        in ConvGeometry geometry, int filters, int examples, bool relu, in ConvGeometry pool, Span<float> pooled, Span<int> argmax)
    {
        CheckForwardInputs(input, transformedKernel, bias, geometry, filters, examples);
        MaxPool.CheckPoolsBlocks2x2("Winograd.ForwardPooled", geometry.OutputHeight, geometry.OutputWidth, filters, pool);
        long pooledLength = (long)examples * pool.OutputPixels * filters;
        Check(pooled.Length, pooledLength, nameof(pooled), "N·POH·POW·F");
        if (!argmax.IsEmpty)
        {
            Check(argmax.Length, pooledLength, nameof(argmax), "N·POH·POW·F");
        }
        if (!IsSupported(geometry, filters))
        {
            float[] output = new float[examples * geometry.OutputPixels * filters];
            ForwardReference(input, transformedKernel, bias, geometry, filters, examples, relu, output);
            MaxPool.ForwardReference(output, pool, examples, pooled, argmax);
            return;
        }
        fixed (float* pooledPointer = pooled)
        fixed (int* argmaxPointer = argmax)
        {
            ForwardCore(input, transformedKernel, bias, geometry, filters, examples, relu, null, pooledPointer, argmax.IsEmpty ? null : argmaxPointer, pool);
        }
    }

    /// <summary>
    /// The SIMD forward: into <paramref name="outputPointer"/> [N, OH, OW, F], or, when it is null, pooled tile by
    /// tile into <paramref name="pooledPointer"/> [N, POH, POW, F] (and <paramref name="argmaxPointer"/> unless null).
    /// </summary>
    private static void ForwardCore(ReadOnlySpan<float> input, ReadOnlySpan<float> transformedKernel, ReadOnlySpan<float> bias,
        in ConvGeometry geometry, int filters, int examples, bool relu, float* outputPointer, float* pooledPointer, int* argmaxPointer, in ConvGeometry pool)
    {
        int channels = geometry.Channels;
        int transformedLength = Points * BlockTiles * channels, productLength = Points * BlockTiles * filters;
        if (t_scratch is null || t_scratch.Length < transformedLength + productLength)
        {
            t_scratch = GC.AllocateUninitializedArray<float>(transformedLength + productLength, pinned: true);
        }
        float* scratch = (float*)Unsafe.AsPointer(ref t_scratch[0]); // pinned
        float* zeros = stackalloc float[Math.Max(channels, filters)];
        new Span<float>(zeros, Math.Max(channels, filters)).Clear();
        float* discard = stackalloc float[filters];
        float** inputCells = stackalloc float*[Points];
        float** outputCells = stackalloc float*[4];
        nint pooledLength = (nint)pool.OutputPixels * filters;
        fixed (float* inputPointer = input, kernelPointer = transformedKernel, biasPointer = bias)
        {
            var walk = new TileWalk(geometry, 2, inputPointer, outputPointer, filters, zeros, discard);
            int tiles = examples * TilesPerExample(geometry);
            for (int first = 0; first < tiles; first += BlockTiles)
            {
                int count = Math.Min(BlockTiles, tiles - first);
                float* v = scratch, m = scratch + transformedLength;
                for (int t = 0; t < count; t++)
                {
                    walk.InputCells(first + t, inputCells);
                    for (int row = 0; row < 4; row++)
                    {
                        TransformInputRow(inputCells, row, channels, v + (4 * row * BlockTiles + t) * (nint)channels, (nint)BlockTiles * channels);
                    }
                }
                Multiply(v, kernelPointer, m, count, channels, filters);
                float* b = bias.IsEmpty ? null : biasPointer;
                for (int t = 0; t < count; t++)
                {
                    if (outputPointer is null)
                    {
                        var (n, y, x) = walk.Locate(first + t);
                        nint window = n * pooledLength + ((nint)(y / 2) * pool.OutputWidth + x / 2) * filters;
                        TransformOutputPooled(m + (nint)t * filters, (nint)BlockTiles * filters, filters, b, relu,
                            y * geometry.OutputWidth + x, x + 1 < geometry.OutputWidth, y + 1 < geometry.OutputHeight, geometry.OutputWidth,
                            pooledPointer + window, argmaxPointer is null ? null : argmaxPointer + window);
                        continue;
                    }
                    walk.OutputCells(first + t, outputCells);
                    TransformOutput(m + (nint)t * filters, (nint)BlockTiles * filters, filters, b, relu, outputCells);
                }
            }
        }
    }

    [ThreadStatic]
    private static float[]? t_scratch;

    /// <summary>
    /// m rows t..t+5 x all F = v rows t..t+5 [C] · U[point] (panels of 16 filters, [F / 16][C][16]): a 6x16 tile of
    /// 12 accumulators per panel, the 6 rows of v staying in L1 across the panels; rows past <paramref name="rows"/>
    /// repeat the last (computed, not stored). Each value one fused multiply-add chain over the channels in order, from zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ProductRows(float* v, int rows, float* u, int channels, int filters, float* m)
    {
        nint c1 = Math.Min(1, rows - 1) * channels, c2 = Math.Min(2, rows - 1) * channels, c3 = Math.Min(3, rows - 1) * channels;
        nint c4 = Math.Min(4, rows - 1) * channels, c5 = Math.Min(5, rows - 1) * channels;
        for (int panel = 0; panel < filters; panel += Panel, m += Panel)
        {
            Vector256<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default;
            Vector256<float> a30 = default, a31 = default, a40 = default, a41 = default, a50 = default, a51 = default;
            float* x = v;
            for (int c = 0; c < channels; c++, u += Panel, x++)
            {
                Vector256<float> k0 = Vector256.Load(u), k1 = Vector256.Load(u + 8);
                Vector256<float> b = Vector256.Create(x[0]);
                a00 = Vector256.FusedMultiplyAdd(b, k0, a00); a01 = Vector256.FusedMultiplyAdd(b, k1, a01);
                b = Vector256.Create(x[c1]);
                a10 = Vector256.FusedMultiplyAdd(b, k0, a10); a11 = Vector256.FusedMultiplyAdd(b, k1, a11);
                b = Vector256.Create(x[c2]);
                a20 = Vector256.FusedMultiplyAdd(b, k0, a20); a21 = Vector256.FusedMultiplyAdd(b, k1, a21);
                b = Vector256.Create(x[c3]);
                a30 = Vector256.FusedMultiplyAdd(b, k0, a30); a31 = Vector256.FusedMultiplyAdd(b, k1, a31);
                b = Vector256.Create(x[c4]);
                a40 = Vector256.FusedMultiplyAdd(b, k0, a40); a41 = Vector256.FusedMultiplyAdd(b, k1, a41);
                b = Vector256.Create(x[c5]);
                a50 = Vector256.FusedMultiplyAdd(b, k0, a50); a51 = Vector256.FusedMultiplyAdd(b, k1, a51);
            }
            a00.Store(m); a01.Store(m + 8);
            if (rows > 1) { a10.Store(m + filters); a11.Store(m + filters + 8); }
            if (rows > 2) { a20.Store(m + 2 * filters); a21.Store(m + 2 * filters + 8); }
            if (rows > 3) { a30.Store(m + 3 * filters); a31.Store(m + 3 * filters + 8); }
            if (rows > 4) { a40.Store(m + 4 * filters); a41.Store(m + 4 * filters + 8); }
            if (rows > 5) { a50.Store(m + 5 * filters); a51.Store(m + 5 * filters + 8); }
        }
    }

    /// <summary>
    /// The 16 products of a block: m[point][t, F] = v[point][t, C] · U[point][C, F], 6 tiles at a time over all
    /// the filters. Single-core A/B against 6x16 tiles called panel by panel (same bits): 0.83-0.93 of the
    /// forward's time on the model's four shapes.
    /// </summary>
    private static void Multiply(float* v, float* kernel, float* m, int count, int channels, int filters)
    {
        for (int point = 0; point < Points; point++)
        {
            float* vPoint = v + (nint)point * BlockTiles * channels, mPoint = m + (nint)point * BlockTiles * filters;
            float* uPoint = kernel + (nint)point * channels * filters;
            for (int t = 0; t < count; t += RowTile)
            {
                ProductRows(vPoint + (nint)t * channels, Math.Min(RowTile, count - t), uPoint, channels, filters, mPoint + (nint)t * filters);
            }
        }
    }

    /// <summary>One row of (Bᵀ·d)·B: the points t0 - t2, t1 + t2, t2 - t1, t1 - t3.</summary>
    private static void InputRow(float* p, nint pointStride, Vector256<float> t0, Vector256<float> t1, Vector256<float> t2, Vector256<float> t3)
    {
        (t0 - t2).Store(p);
        (t1 + t2).Store(p + pointStride);
        (t2 - t1).Store(p + 2 * pointStride);
        (t1 - t3).Store(p + 3 * pointStride);
    }

    /// <summary>Y = Aᵀ·M·A for every 8 filters of one tile, plus the bias and through ReLU, into the 4 output cells.</summary>
    private static void TransformOutput(float* m, nint pointStride, int filters, float* bias, bool relu, float** cells)
    {
        for (int f = 0; f < filters; f += Vector256<float>.Count)
        {
            InverseTransform(m + f, pointStride, bias is null ? null : bias + f, relu, out var y00, out var y01, out var y10, out var y11);
            y00.Store(cells[0] + f);
            y01.Store(cells[1] + f);
            y10.Store(cells[2] + f);
            y11.Store(cells[3] + f);
        }
    }

    /// <summary>
    /// The 2x2 outputs Y = Aᵀ·M·A of 8 filters of one tile from its 16 points (<paramref name="p"/>, <paramref name="pointStride"/>
    /// floats apart), plus the bias (unless null) and through ReLU when <paramref name="relu"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InverseTransform(float* p, nint pointStride, float* bias, bool relu,
        out Vector256<float> y00, out Vector256<float> y01, out Vector256<float> y10, out Vector256<float> y11)
    {
        // Aᵀ·M: s0 = m0 + m1 + m2, s1 = m1 - m2 - m3 (rows), column by column.
        Vector256<float> m0 = Vector256.Load(p), m1 = Vector256.Load(p + 4 * pointStride), m2 = Vector256.Load(p + 8 * pointStride), m3 = Vector256.Load(p + 12 * pointStride);
        Vector256<float> s00 = m0 + m1 + m2, s10 = m1 - m2 - m3;
        m0 = Vector256.Load(p + pointStride); m1 = Vector256.Load(p + 5 * pointStride); m2 = Vector256.Load(p + 9 * pointStride); m3 = Vector256.Load(p + 13 * pointStride);
        Vector256<float> s01 = m0 + m1 + m2, s11 = m1 - m2 - m3;
        m0 = Vector256.Load(p + 2 * pointStride); m1 = Vector256.Load(p + 6 * pointStride); m2 = Vector256.Load(p + 10 * pointStride); m3 = Vector256.Load(p + 14 * pointStride);
        Vector256<float> s02 = m0 + m1 + m2, s12 = m1 - m2 - m3;
        m0 = Vector256.Load(p + 3 * pointStride); m1 = Vector256.Load(p + 7 * pointStride); m2 = Vector256.Load(p + 11 * pointStride); m3 = Vector256.Load(p + 15 * pointStride);
        Vector256<float> s03 = m0 + m1 + m2, s13 = m1 - m2 - m3;
        y00 = s00 + s01 + s02; y01 = s01 - s02 - s03; y10 = s10 + s11 + s12; y11 = s11 - s12 - s13;
        if (bias is not null)
        {
            Vector256<float> b = Vector256.Load(bias);
            y00 += b; y01 += b; y10 += b; y11 += b;
        }
        if (relu)
        {
            y00 = Vector256.Max(y00, Vector256<float>.Zero); y01 = Vector256.Max(y01, Vector256<float>.Zero);
            y10 = Vector256.Max(y10, Vector256<float>.Zero); y11 = Vector256.Max(y11, Vector256<float>.Zero);
        }
    }

    /// <summary>
    /// <see cref="TransformOutput"/>'s 4 values of every 8 filters of one tile (pixel (y, x) its top-left, <paramref name="pixel"/>
    /// = y·OW + x; the right column and the bottom row only where they lie inside the output), max-pooled as
    /// <see cref="MaxPool"/> does: the first strictly greater value in row-major order wins. The window's value
    /// goes to <paramref name="pooled"/>, its winner (index (pixel'·F + f) into the example's output) to
    /// <paramref name="winners"/> unless null.
    /// </summary>
    private static void TransformOutputPooled(float* m, nint pointStride, int filters, float* bias, bool relu,
        int pixel, bool right, bool below, int outputWidth, float* pooled, int* winners)
    {
        int cell0 = pixel * filters, cell1 = cell0 + filters, cell2 = cell0 + outputWidth * filters, cell3 = cell2 + filters;
        for (int f = 0; f < filters; f += Vector256<float>.Count)
        {
            InverseTransform(m + f, pointStride, bias is null ? null : bias + f, relu, out var y00, out var y01, out var y10, out var y11);
            MaxPool.PoolWindow256(pooled + f, winners is null ? null : winners + f, f, y00, y01, y10, y11, cell0, cell1, cell2, cell3, right, below);
        }
    }

    /// <summary>
    /// dU rows c..c+5 x 16 filters += Σ over <paramref name="count"/> tiles of v[t, c + i] · dm[t, 16]: v's rows
    /// <paramref name="stride"/> floats apart, dm a panel (rows 16 floats apart); a partial tile computes
    /// rows past <paramref name="rowCount"/> from its last row and stores only its own.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ProductTile6x16(float* v, nint stride, int count, int rowCount, float* dm, float* dU, nint dUStride, bool fromZero)
    {
        nint o1 = Math.Min(1, rowCount - 1), o2 = Math.Min(2, rowCount - 1), o3 = Math.Min(3, rowCount - 1), o4 = Math.Min(4, rowCount - 1), o5 = Math.Min(5, rowCount - 1);
        float* k0p = dU, k1p = dU + o1 * dUStride, k2p = dU + o2 * dUStride, k3p = dU + o3 * dUStride, k4p = dU + o4 * dUStride, k5p = dU + o5 * dUStride;
        Vector256<float> a00, a01, a10, a11, a20, a21, a30, a31, a40, a41, a50, a51;
        if (fromZero)
        {
            // The first addends of dU: the chains start from +0, as from a cleared dU.
            a00 = a01 = a10 = a11 = a20 = a21 = a30 = a31 = a40 = a41 = a50 = a51 = Vector256<float>.Zero;
        }
        else
        {
            a00 = Vector256.Load(k0p); a01 = Vector256.Load(k0p + 8); a10 = Vector256.Load(k1p); a11 = Vector256.Load(k1p + 8);
            a20 = Vector256.Load(k2p); a21 = Vector256.Load(k2p + 8); a30 = Vector256.Load(k3p); a31 = Vector256.Load(k3p + 8);
            a40 = Vector256.Load(k4p); a41 = Vector256.Load(k4p + 8); a50 = Vector256.Load(k5p); a51 = Vector256.Load(k5p + 8);
        }
        // The next tile's rows of dU (6 rows further on; a prefetch never faults) are on their way while
        // this tile's chains run: without it each tile waited for its rows first (whole training step,
        // one core, in-process A/B: 0.97 of the time).
        float* next = dU + 6 * dUStride;
        Sse.Prefetch0(next); Sse.Prefetch0(next + dUStride); Sse.Prefetch0(next + 2 * dUStride);
        Sse.Prefetch0(next + 3 * dUStride); Sse.Prefetch0(next + 4 * dUStride); Sse.Prefetch0(next + 5 * dUStride);
        float* w = v, d = dm;
        for (int t = 0; t < count; t++, w += stride, d += Panel)
        {
            Vector256<float> d0 = Vector256.Load(d), d1 = Vector256.Load(d + 8);
            Vector256<float> x = Vector256.Create(w[0]);
            a00 = Vector256.FusedMultiplyAdd(x, d0, a00); a01 = Vector256.FusedMultiplyAdd(x, d1, a01);
            x = Vector256.Create(w[o1]);
            a10 = Vector256.FusedMultiplyAdd(x, d0, a10); a11 = Vector256.FusedMultiplyAdd(x, d1, a11);
            x = Vector256.Create(w[o2]);
            a20 = Vector256.FusedMultiplyAdd(x, d0, a20); a21 = Vector256.FusedMultiplyAdd(x, d1, a21);
            x = Vector256.Create(w[o3]);
            a30 = Vector256.FusedMultiplyAdd(x, d0, a30); a31 = Vector256.FusedMultiplyAdd(x, d1, a31);
            x = Vector256.Create(w[o4]);
            a40 = Vector256.FusedMultiplyAdd(x, d0, a40); a41 = Vector256.FusedMultiplyAdd(x, d1, a41);
            x = Vector256.Create(w[o5]);
            a50 = Vector256.FusedMultiplyAdd(x, d0, a50); a51 = Vector256.FusedMultiplyAdd(x, d1, a51);
        }
        a00.Store(k0p); a01.Store(k0p + 8);
        if (rowCount > 1) { a10.Store(k1p); a11.Store(k1p + 8); }
        if (rowCount > 2) { a20.Store(k2p); a21.Store(k2p + 8); }
        if (rowCount > 3) { a30.Store(k3p); a31.Store(k3p + 8); }
        if (rowCount > 4) { a40.Store(k4p); a41.Store(k4p + 8); }
        if (rowCount > 5) { a50.Store(k5p); a51.Store(k5p + 8); }
    }

    /// <summary>Tiles per block of the kernel gradient: its transformed input and gradient are kept for the whole block.</summary>
    private const int GradientBlockTiles = 128;

    /// <summary>
    /// Above this many bytes of a block's transformed input and gradient (all 16 points), the kernel gradient
    /// transforms and multiplies one row of 4 points at a time, so that what the products read stays in L2
    /// (512 KiB a core here). Single-core A/B, same bits: conv3 (7x7, C 64, F 128: 983 KB) 0.90 of the time;
    /// conv2 (14x14, C 32, F 64: 602 KB) 1.03, so it keeps all 16 points.
    /// </summary>
    private const int RowsAbove = 768 << 10;

    /// <summary>
    /// dU[16][C][F] (+)= Σ over the tiles of <paramref name="examples"/> of V[point][t, c] · dM[point][t, f]: V = Bᵀ·d·B
    /// of input[N, H, W, C] padded as in <see cref="Forward"/> and dM = A·dY·Aᵀ of dPre[N, OH, OW, F] (dY of a cut
    /// tile's missing pixels 0), the gradient of U. <see cref="FinishWeightGradient"/> turns dU into the
    /// kernel's gradient; dU of several calls adds up first (each value one chain, tile after tile).
    /// </summary>
    public static void WeightGradient(ReadOnlySpan<float> input, ReadOnlySpan<float> dPre, in ConvGeometry geometry, int filters, int examples,
        Span<float> dU, bool accumulate)
    {
        CheckGradient(input, dPre, geometry, filters, examples, dU);
        if (!IsSupported(geometry, filters))
        {
            WeightGradientReference(input, dPre, geometry, filters, examples, dU, accumulate);
            return;
        }
        int channels = geometry.Channels;
        int tiles = examples * TilesPerExample(geometry);
        if (!accumulate && tiles == 0)
        {
            dU.Slice(0, Points * channels * filters).Clear(); // no block to start the chains
        }
        // A pass transforms and multiplies rowsPerPass rows of the 4x4 points: all 4, or 1 when 16 points do not fit.
        int rowsPerPass = (long)Points * Math.Min(GradientBlockTiles, tiles) * (channels + filters) * sizeof(float) > RowsAbove ? 1 : 4;
        int passPoints = 4 * rowsPerPass;
        int transformedLength = passPoints * GradientBlockTiles * channels, gradientLength = passPoints * GradientBlockTiles * filters;
        if (t_gradientScratch is null || t_gradientScratch.Length < transformedLength + gradientLength)
        {
            t_gradientScratch = GC.AllocateUninitializedArray<float>(transformedLength + gradientLength, pinned: true);
        }
        if (t_cells is null || t_cells.Length < GradientBlockTiles * (Points + 4))
        {
            t_cells = GC.AllocateUninitializedArray<nint>(GradientBlockTiles * (Points + 4), pinned: true);
        }
        float* v = (float*)Unsafe.AsPointer(ref t_gradientScratch[0]);  // pinned: [pass points][count][C]
        float* dm = v + transformedLength;                               // [pass points][F / 16][count][16]
        float** inputCells = (float**)Unsafe.AsPointer(ref t_cells[0]);  // pinned: [count][16] input cells
        float** outputCells = inputCells + (nint)GradientBlockTiles * Points; // [count][4] dY cells
        float* zeros = stackalloc float[Math.Max(channels, filters)];
        new Span<float>(zeros, Math.Max(channels, filters)).Clear();
        fixed (float* inputPointer = input, dPrePointer = dPre, dUPointer = dU)
        {
            var walk = new TileWalk(geometry, 2, inputPointer, dPrePointer, filters, zeros, zeros);
            for (int first = 0; first < tiles; first += GradientBlockTiles)
            {
                int count = Math.Min(GradientBlockTiles, tiles - first);
                bool fromZero = !accumulate && first == 0; // the first block starts dU's chains (no cleared dU to load)
                nint vPoint = (nint)count * channels, dmPoint = (nint)count * filters;
                for (int t = 0; t < count; t++)
                {
                    walk.InputCells(first + t, inputCells + (nint)t * Points);
                    walk.OutputCells(first + t, outputCells + (nint)t * 4);
                }
                for (int firstRow = 0; firstRow < 4; firstRow += rowsPerPass)
                {
                    for (int t = 0; t < count; t++)
                    {
                        if (firstRow == 0 && t + 2 < count)
                        {
                            PrefetchTile(inputCells + (nint)(t + 2) * Points, outputCells + (nint)(t + 2) * 4, channels, filters);
                        }
                        for (int row = 0; row < rowsPerPass; row++)
                        {
                            TransformInputRow(inputCells + (nint)t * Points, firstRow + row, channels, v + 4 * row * vPoint + (nint)t * channels, vPoint);
                        }
                        TransformGradientRows(outputCells + (nint)t * 4, firstRow, rowsPerPass, filters, dm + (nint)t * Panel, count);
                    }
                    for (int k = 0; k < passPoints; k++)
                    {
                        float* dU0 = dUPointer + (nint)(4 * firstRow + k) * channels * filters;
                        for (int panel = 0; panel < filters; panel += Panel)
                        {
                            float* dmPanel = dm + k * dmPoint + (nint)panel * count; // [count][16]
                            for (int c = 0; c < channels; c += RowTile)
                            {
                                ProductTile6x16(v + k * vPoint + c, channels, count, Math.Min(RowTile, channels - c), dmPanel,
                                    dU0 + (nint)c * filters + panel, filters, fromZero);
                            }
                        }
                    }
                }
            }
        }
    }

    [ThreadStatic]
    private static nint[]? t_cells;

    /// <summary>
    /// Prefetches what a tile's transforms read that its left neighbour's did not: the right two columns of its
    /// 16 input cells and its 4 dY cells. Run two tiles ahead in the kernel gradient, whose input was written
    /// long before (by the forward): whole training step, one core, in-process A/B 0.97 of the time. (In the
    /// forward, whose input was just written, the same prefetch gained nothing.)
    /// </summary>
    private static void PrefetchTile(float** inputCells, float** dYCells, int channels, int filters)
    {
        for (int r = 0; r < 4; r++)
        {
            for (int line = 0; line < channels; line += 16)
            {
                Sse.Prefetch0(inputCells[r * 4 + 2] + line);
                Sse.Prefetch0(inputCells[r * 4 + 3] + line);
            }
            for (int line = 0; line < filters; line += 16)
            {
                Sse.Prefetch0(dYCells[r] + line);
            }
        }
    }

    /// <summary>
    /// Row <paramref name="row"/> of V = Bᵀ·d·B (its 4 points, <paramref name="pointStride"/> floats apart) for every
    /// 8 channels of one tile: <paramref name="cells"/> are its 16 input cells, row by row (zeros outside the image).
    /// </summary>
    private static void TransformInputRow(float** cells, int row, int channels, float* v, nint pointStride)
    {
        // Row r of Bᵀ·d: d0 - d2, d1 + d2, d2 - d1, d1 - d3 (rows of the block).
        int a = row switch { 0 => 0, 1 => 4, 2 => 8, _ => 4 }, b = row switch { 0 => 8, 1 => 8, 2 => 4, _ => 12 };
        bool add = row == 1;
        float** p = cells + a, q = cells + b;
        for (int c = 0; c < channels; c += Vector256<float>.Count)
        {
            Vector256<float> p0 = Vector256.Load(p[0] + c), p1 = Vector256.Load(p[1] + c), p2 = Vector256.Load(p[2] + c), p3 = Vector256.Load(p[3] + c);
            Vector256<float> q0 = Vector256.Load(q[0] + c), q1 = Vector256.Load(q[1] + c), q2 = Vector256.Load(q[2] + c), q3 = Vector256.Load(q[3] + c);
            if (add)
            {
                InputRow(v + c, pointStride, p0 + q0, p1 + q1, p2 + q2, p3 + q3);
            }
            else
            {
                InputRow(v + c, pointStride, p0 - q0, p1 - q1, p2 - q2, p3 - q3);
            }
        }
    }

    /// <summary>
    /// Rows <paramref name="firstRow"/> .. + <paramref name="rows"/> of dM = A·dY·Aᵀ (4 points each) for every 8 filters of
    /// one tile, its 4 dY <paramref name="cells"/> (zeros past the output) read once: written to
    /// dm[row][point][F / 16][count][16] (4·F·count floats a row) at this tile's row.
    /// </summary>
    private static void TransformGradientRows(float** cells, int firstRow, int rows, int filters, float* dm, int count)
    {
        nint point = (nint)filters * count;
        for (int f = 0; f < filters; f += Vector256<float>.Count)
        {
            Vector256<float> y00 = Vector256.Load(cells[0] + f), y01 = Vector256.Load(cells[1] + f);
            Vector256<float> y10 = Vector256.Load(cells[2] + f), y11 = Vector256.Load(cells[3] + f);
            float* p = dm + (nint)(f / Panel) * Panel * count + f % Panel;
            for (int row = firstRow; row < firstRow + rows; row++, p += 4 * point)
            {
                switch (row)
                {
                    case 0: GradientRow(p, point, y00, y01); break;
                    case 1: GradientRow(p, point, y00 + y10, y01 + y11); break;
                    case 2: GradientRow(p, point, y00 - y10, y01 - y11); break;
                    default: GradientRow(p, point, -y10, -y11); break;
                }
            }
        }
    }

    [ThreadStatic]
    private static float[]? t_gradientScratch;

    /// <summary>One row of dM's points from a row (a, b) of A·dY: a, a + b, a - b, -b, <paramref name="point"/> floats apart.</summary>
    private static void GradientRow(float* p, nint point, Vector256<float> a, Vector256<float> b)
    {
        a.Store(p);
        (a + b).Store(p + point);
        (a - b).Store(p + 2 * point);
        (-b).Store(p + 3 * point);
    }

    /// <summary>dKernel[3, 3, C, F] = Gᵀ·dU·G: the gradient of the kernel from the gradient of U = G·g·Gᵀ.</summary>
    public static void FinishWeightGradient(ReadOnlySpan<float> dU, int channels, int filters, Span<float> dKernel)
    {
        CheckFinish(dU, channels, filters, dKernel);
        if (!Vector256.IsHardwareAccelerated)
        {
            FinishWeightGradientReference(dU, channels, filters, dKernel);
            return;
        }
        var half = Vector256.Create(0.5f);
        fixed (float* u = dU, k = dKernel)
        {
            nint point = (nint)channels * filters;
            for (int c = 0; c < channels; c++)
            {
                for (int f = 0; f < filters; f += Vector256<float>.Count)
                {
                    float* p = u + (nint)c * filters + f;
                    // Gᵀ·dU, column by column: h0 = u0 + s, h1 = d, h2 = s + u3 with s = (u1 + u2)·½, d = (u1 - u2)·½.
                    Vector256<float> h00, h01, h02, h03, h10, h11, h12, h13, h20, h21, h22, h23;
                    FinishColumn(p, point, half, out h00, out h10, out h20);
                    FinishColumn(p + point, point, half, out h01, out h11, out h21);
                    FinishColumn(p + 2 * point, point, half, out h02, out h12, out h22);
                    FinishColumn(p + 3 * point, point, half, out h03, out h13, out h23);
                    float* q = k + (nint)c * filters + f;
                    FinishRow(q, point, h00, h01, h02, h03, half);
                    FinishRow(q + 3 * point, point, h10, h11, h12, h13, half);
                    FinishRow(q + 6 * point, point, h20, h21, h22, h23, half);
                }
            }
        }
    }

    /// <summary>Column j of Gᵀ·dU from the column's points (rows 0..3, 4 points apart).</summary>
    private static void FinishColumn(float* p, nint point, Vector256<float> half, out Vector256<float> h0, out Vector256<float> h1, out Vector256<float> h2)
    {
        Vector256<float> u0 = Vector256.Load(p), u1 = Vector256.Load(p + 4 * point), u2 = Vector256.Load(p + 8 * point), u3 = Vector256.Load(p + 12 * point);
        Vector256<float> s = (u1 + u2) * half, d = (u1 - u2) * half;
        h0 = u0 + s;
        h1 = d;
        h2 = s + u3;
    }

    /// <summary>Row i of (Gᵀ·dU)·G: the kernel's taps (i, 0..2), <paramref name="tap"/> floats apart.</summary>
    private static void FinishRow(float* q, nint tap, Vector256<float> h0, Vector256<float> h1, Vector256<float> h2, Vector256<float> h3, Vector256<float> half)
    {
        Vector256<float> s = (h1 + h2) * half, d = (h1 - h2) * half;
        (h0 + s).Store(q);
        d.Store(q + tap);
        (s + h3).Store(q + 2 * tap);
    }

    /// <summary>The scalar twin of <see cref="WeightGradient"/>: the same transforms and chains, value by value.</summary>
    public static void WeightGradientReference(ReadOnlySpan<float> input, ReadOnlySpan<float> dPre, in ConvGeometry geometry, int filters, int examples,
        Span<float> dU, bool accumulate)
    {
        CheckGradient(input, dPre, geometry, filters, examples, dU);
        int channels = geometry.Channels;
        if (!accumulate)
        {
            dU.Slice(0, Points * channels * filters).Clear();
        }
        int outputLength = geometry.OutputPixels * filters;
        int outputHeight = geometry.OutputHeight, outputWidth = geometry.OutputWidth;
        var v = new float[Points * channels];
        var dm = new float[Points * filters];
        var d = new float[Points];
        for (int n = 0; n < examples; n++)
        {
            for (int y = 0; y < geometry.OutputHeight; y += 2)
            {
                for (int x = 0; x < geometry.OutputWidth; x += 2)
                {
                    for (int c = 0; c < channels; c++)
                    {
                        for (int i = 0; i < Points; i++)
                        {
                            d[i] = InputValue(input, geometry, n, y + i / 4, x + i % 4, c);
                        }
                        TransformInputReference(d);
                        for (int i = 0; i < Points; i++)
                        {
                            v[i * channels + c] = d[i];
                        }
                    }
                    for (int f = 0; f < filters; f++)
                    {
                        int cell = n * outputLength + (y * outputWidth + x) * filters + f;
                        bool right = x + 1 < outputWidth, below = y + 1 < outputHeight;
                        float y00 = dPre[cell], y01 = right ? dPre[cell + filters] : 0f;
                        float y10 = below ? dPre[cell + outputWidth * filters] : 0f, y11 = below && right ? dPre[cell + (outputWidth + 1) * filters] : 0f;
                        Span<float> rowA = [y00, y00 + y10, y00 - y10, -y10], rowB = [y01, y01 + y11, y01 - y11, -y11];
                        for (int r = 0; r < 4; r++)
                        {
                            float a = rowA[r], b = rowB[r];
                            dm[(4 * r) * filters + f] = a;
                            dm[(4 * r + 1) * filters + f] = a + b;
                            dm[(4 * r + 2) * filters + f] = a - b;
                            dm[(4 * r + 3) * filters + f] = -b;
                        }
                    }
                    for (int point = 0; point < Points; point++)
                    {
                        for (int c = 0; c < channels; c++)
                        {
                            for (int f = 0; f < filters; f++)
                            {
                                int at = (point * channels + c) * filters + f;
                                dU[at] = MathF.FusedMultiplyAdd(v[point * channels + c], dm[point * filters + f], dU[at]);
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>Bᵀ·d·B of one channel's 4x4 block, in place, as <see cref="TransformInputRow"/> computes it row by row.</summary>
    private static void TransformInputReference(Span<float> d)
    {
        for (int j = 0; j < 4; j++)
        {
            float t0 = d[j] - d[8 + j], t1 = d[4 + j] + d[8 + j], t2 = d[8 + j] - d[4 + j], t3 = d[4 + j] - d[12 + j];
            d[j] = t0; d[4 + j] = t1; d[8 + j] = t2; d[12 + j] = t3;
        }
        for (int r = 0; r < 4; r++)
        {
            float t0 = d[4 * r], t1 = d[4 * r + 1], t2 = d[4 * r + 2], t3 = d[4 * r + 3];
            d[4 * r] = t0 - t2;
            d[4 * r + 1] = t1 + t2;
            d[4 * r + 2] = t2 - t1;
            d[4 * r + 3] = t1 - t3;
        }
    }

    /// <summary>The scalar twin of <see cref="FinishWeightGradient"/>.</summary>
    public static void FinishWeightGradientReference(ReadOnlySpan<float> dU, int channels, int filters, Span<float> dKernel)
    {
        CheckFinish(dU, channels, filters, dKernel);
        int point = channels * filters;
        Span<float> h = stackalloc float[12];
        for (int at = 0; at < point; at++)
        {
            for (int col = 0; col < 4; col++)
            {
                float u0 = dU[col * point + at], u1 = dU[(4 + col) * point + at], u2 = dU[(8 + col) * point + at], u3 = dU[(12 + col) * point + at];
                float s = (u1 + u2) * 0.5f, d = (u1 - u2) * 0.5f;
                h[col] = u0 + s;
                h[4 + col] = d;
                h[8 + col] = s + u3;
            }
            for (int i = 0; i < 3; i++)
            {
                float s = (h[4 * i + 1] + h[4 * i + 2]) * 0.5f, d = (h[4 * i + 1] - h[4 * i + 2]) * 0.5f;
                dKernel[(3 * i) * point + at] = h[4 * i] + s;
                dKernel[(3 * i + 1) * point + at] = d;
                dKernel[(3 * i + 2) * point + at] = s + h[4 * i + 3];
            }
        }
    }

    /// <summary>
    /// Where tile t reads and writes, for output tiles of <c>size</c> x <c>size</c> pixels (2 here, 4 in
    /// <see cref="Winograd4x4"/>): its (size + 2)² input cells (a zero row in the padding, and past the padded
    /// image for a cut last tile) and its size² output cells (a discard row past the output, or a zero row
    /// when the "output" is the dPre the kernel gradient reads).
    /// </summary>
    internal readonly struct TileWalk
    {
        private readonly float* _input, _output, _zeros, _discard;
        private readonly int _size, _channels, _filters, _height, _width, _padTop, _padLeft, _outputHeight, _outputWidth, _tilesWide, _tilesPerExample;
        private readonly nint _inputLength, _outputLength;

        public TileWalk(in ConvGeometry geometry, int size, float* input, float* output, int filters, float* zeros, float* discard)
        {
            _input = input;
            _output = output;
            _zeros = zeros;
            _discard = discard;
            _size = size;
            _channels = geometry.Channels;
            _filters = filters;
            _height = geometry.InputHeight;
            _width = geometry.InputWidth;
            _padTop = geometry.PadTop;
            _padLeft = geometry.PadLeft;
            _outputHeight = geometry.OutputHeight;
            _outputWidth = geometry.OutputWidth;
            _tilesWide = (geometry.OutputWidth + size - 1) / size;
            _tilesPerExample = ((geometry.OutputHeight + size - 1) / size) * _tilesWide;
            _inputLength = geometry.InputLength;
            _outputLength = (nint)geometry.OutputPixels * filters;
        }

        /// <summary>
        /// Fills <paramref name="cells"/>[(size + 2)²] with tile <paramref name="tile"/>'s input cells, row by row: the
        /// block whose top-left corner is the tile's, in the input padded by PadTop rows and PadLeft columns (zeros).
        /// </summary>
        public void InputCells(int tile, float** cells)
        {
            var (n, y, x) = Locate(tile);
            float* example = _input + n * _inputLength;
            y -= _padTop;
            x -= _padLeft;
            int side = _size + 2;
            for (int r = 0; r < side; r++)
            {
                bool rowInside = (uint)(y + r) < (uint)_height;
                for (int c = 0; c < side; c++)
                {
                    bool inside = rowInside && (uint)(x + c) < (uint)_width;
                    cells[r * side + c] = inside ? example + ((nint)(y + r) * _width + x + c) * _channels : _zeros;
                }
            }
        }

        /// <summary>Fills <paramref name="cells"/>[size²] with tile <paramref name="tile"/>'s output cells, row by row.</summary>
        public void OutputCells(int tile, float** cells)
        {
            var (n, y, x) = Locate(tile);
            float* example = _output + n * _outputLength;
            for (int r = 0; r < _size; r++)
            {
                for (int c = 0; c < _size; c++)
                {
                    bool inside = y + r < _outputHeight && x + c < _outputWidth;
                    cells[r * _size + c] = inside ? example + ((nint)(y + r) * _outputWidth + x + c) * _filters : _discard;
                }
            }
        }

        /// <summary>The example and the top-left output pixel (y, x) of tile <paramref name="tile"/>.</summary>
        public (nint N, int Y, int X) Locate(int tile)
        {
            int n = tile / _tilesPerExample, index = tile - n * _tilesPerExample;
            int row = index / _tilesWide;
            return (n, _size * row, _size * (index - row * _tilesWide));
        }
    }

    /// <summary>
    /// The scalar twin of <see cref="Forward"/>: the same transforms, products (one fused multiply-add chain
    /// per point, filter and tile, over the channels in order) and inverse transforms, value by value.
    /// </summary>
    public static void ForwardReference(ReadOnlySpan<float> input, ReadOnlySpan<float> transformedKernel, ReadOnlySpan<float> bias,
        in ConvGeometry geometry, int filters, int examples, bool relu, Span<float> output)
    {
        CheckForward(input, transformedKernel, bias, geometry, filters, examples, output);
        int channels = geometry.Channels, outputLength = geometry.OutputPixels * filters;
        var d = new float[Points];
        var v = new float[Points * channels];
        var m = new float[Points];
        for (int n = 0; n < examples; n++)
        {
            for (int y = 0; y < geometry.OutputHeight; y += 2)
            {
                for (int x = 0; x < geometry.OutputWidth; x += 2)
                {
                    for (int c = 0; c < channels; c++)
                    {
                        for (int i = 0; i < Points; i++)
                        {
                            d[i] = InputValue(input, geometry, n, y + i / 4, x + i % 4, c);
                        }
                        for (int j = 0; j < 4; j++)
                        {
                            // Bᵀ·d, row by row, then the row's points.
                            float t0 = d[j] - d[8 + j], t1 = d[4 + j] + d[8 + j], t2 = d[8 + j] - d[4 + j], t3 = d[4 + j] - d[12 + j];
                            d[j] = t0; d[4 + j] = t1; d[8 + j] = t2; d[12 + j] = t3;
                        }
                        for (int r = 0; r < 4; r++)
                        {
                            float t0 = d[4 * r], t1 = d[4 * r + 1], t2 = d[4 * r + 2], t3 = d[4 * r + 3];
                            v[(4 * r) * channels + c] = t0 - t2;
                            v[(4 * r + 1) * channels + c] = t1 + t2;
                            v[(4 * r + 2) * channels + c] = t2 - t1;
                            v[(4 * r + 3) * channels + c] = t1 - t3;
                        }
                    }
                    for (int f = 0; f < filters; f++)
                    {
                        for (int point = 0; point < Points; point++)
                        {
                            float sum = 0f;
                            for (int c = 0; c < channels; c++)
                            {
                                sum = MathF.FusedMultiplyAdd(v[point * channels + c], transformedKernel[TransformedIndex(point, c, f, channels, filters)], sum);
                            }
                            m[point] = sum;
                        }
                        float s00 = m[0] + m[4] + m[8], s10 = m[4] - m[8] - m[12];
                        float s01 = m[1] + m[5] + m[9], s11 = m[5] - m[9] - m[13];
                        float s02 = m[2] + m[6] + m[10], s12 = m[6] - m[10] - m[14];
                        float s03 = m[3] + m[7] + m[11], s13 = m[7] - m[11] - m[15];
                        Span<float> ys = [s00 + s01 + s02, s01 - s02 - s03, s10 + s11 + s12, s11 - s12 - s13];
                        for (int i = 0; i < 4; i++)
                        {
                            int r = y + i / 2, col = x + i % 2;
                            if (r >= geometry.OutputHeight || col >= geometry.OutputWidth)
                            {
                                continue;
                            }
                            float value = ys[i];
                            if (!bias.IsEmpty)
                            {
                                value += bias[f];
                            }
                            output[n * outputLength + (r * geometry.OutputWidth + col) * filters + f] = relu ? Math.Max(value, 0f) : value;
                        }
                    }
                }
            }
        }
    }

    /// <summary>input[n, py - PadTop, px - PadLeft, c], or 0 in the padding.</summary>
    private static float InputValue(ReadOnlySpan<float> input, in ConvGeometry geometry, int n, int py, int px, int c)
    {
        int y = py - geometry.PadTop, x = px - geometry.PadLeft;
        return y < 0 || x < 0 || y >= geometry.InputHeight || x >= geometry.InputWidth
            ? 0f : input[((n * geometry.InputHeight + y) * geometry.InputWidth + x) * geometry.Channels + c];
    }

    private static void CheckKernel(ReadOnlySpan<float> kernel, int channels, int filters, Span<float> transformed)
    {
        if (channels < 1 || filters < 1 || filters % Panel != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(filters), $"Winograd expects C >= 1 and F a positive multiple of {Panel}; received C={channels}, F={filters}.");
        }
        if (channels % Vector256<float>.Count != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(channels), $"Winograd expects C a multiple of {Vector256<float>.Count}; received C={channels}.");
        }
        Check(kernel.Length, 9L * channels * filters, nameof(kernel), "3·3·C·F");
        Check(transformed.Length, (long)Points * channels * filters, nameof(transformed), "16·C·F");
    }

    private static void CheckForward(ReadOnlySpan<float> input, ReadOnlySpan<float> transformedKernel, ReadOnlySpan<float> bias,
        in ConvGeometry geometry, int filters, int examples, Span<float> output)
    {
        CheckForwardInputs(input, transformedKernel, bias, geometry, filters, examples);
        Check(output.Length, (long)examples * geometry.OutputPixels * filters, nameof(output), "N·OH·OW·F");
    }

    private static void CheckForwardInputs(ReadOnlySpan<float> input, ReadOnlySpan<float> transformedKernel, ReadOnlySpan<float> bias,
        in ConvGeometry geometry, int filters, int examples)
    {
        CheckShape(geometry, filters, examples);
        Check(input.Length, (long)examples * geometry.InputLength, nameof(input), "N·H·W·C");
        Check(transformedKernel.Length, (long)Points * geometry.Channels * filters, nameof(transformedKernel), "16·C·F");
        if (!bias.IsEmpty)
        {
            Check(bias.Length, filters, nameof(bias), "F");
        }
    }

    private static void CheckShape(in ConvGeometry geometry, int filters, int examples)
    {
        if (geometry.KernelHeight != 3 || geometry.KernelWidth != 3 || geometry.StrideHeight != 1 || geometry.StrideWidth != 1)
        {
            throw new ArgumentException($"Winograd F(2x2, 3x3) expects a 3x3 kernel with strides of 1; received {geometry.KernelHeight}x{geometry.KernelWidth} with strides {geometry.StrideHeight}x{geometry.StrideWidth}.", nameof(geometry));
        }
        if (examples < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(examples), $"Winograd expects examples >= 0; received {examples}.");
        }
        if (filters < 1 || filters % Panel != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(filters), $"Winograd expects F a positive multiple of {Panel}; received F={filters}.");
        }
    }

    private static void CheckGradient(ReadOnlySpan<float> input, ReadOnlySpan<float> dPre, in ConvGeometry geometry, int filters, int examples, Span<float> dU)
    {
        CheckShape(geometry, filters, examples);
        if (geometry.Channels < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(geometry), $"Winograd expects C >= 1; received C={geometry.Channels}.");
        }
        Check(input.Length, (long)examples * geometry.InputLength, nameof(input), "N·H·W·C");
        Check(dPre.Length, (long)examples * geometry.OutputPixels * filters, nameof(dPre), "N·OH·OW·F");
        Check(dU.Length, (long)Points * geometry.Channels * filters, nameof(dU), "16·C·F");
    }

    private static void CheckFinish(ReadOnlySpan<float> dU, int channels, int filters, Span<float> dKernel)
    {
        if (channels < 1 || filters < 1 || channels % Vector256<float>.Count != 0 || filters % Vector256<float>.Count != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(filters), $"Winograd expects C and F positive multiples of {Vector256<float>.Count}; received C={channels}, F={filters}.");
        }
        Check(dU.Length, (long)Points * channels * filters, nameof(dU), "16·C·F");
        Check(dKernel.Length, 9L * channels * filters, nameof(dKernel), "3·3·C·F");
    }

    private static void Check(long actual, long expected, string name, string shape)
    {
        if (actual < expected)
        {
            throw new ArgumentException($"Winograd: {name} has {actual} values; expected at least {expected} ({shape}).", name);
        }
    }
}
