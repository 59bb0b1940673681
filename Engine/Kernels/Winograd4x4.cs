using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels;

/// <summary>
/// 3x3 stride-1 convolution by Winograd's minimal filtering F(4x4, 3x3) (Lavin and Gray, 2016): the forward and
/// the input gradient of the model's conv2 and conv3 on AVX2 machines. Each 4x4 block of output pixels (a tile) is
/// computed from the 6x6 block of padded input under it (the zeros read in place): the block and the kernel are
/// transformed into 36 points, multiplied point by point and summed over the channels (36 products [tiles, C] x
/// [C, F], the same 6x16 product tile as <see cref="Winograd"/>'s), and the 36 sums are transformed back into the
/// 16 outputs. That is 36 multiply-adds per tile, channel and filter where the convolution takes 144: 4x fewer
/// (F(2x2, 3x3): 2.25x). The kernel gradient stays with <see cref="Winograd"/>.
/// </summary>
/// <remarks>
/// With V = Bᵀ·d·B (input block d, 6x6), U = G·g·Gᵀ (kernel g, 3x3), Y = Aᵀ·M·A, M = Σ over channels of V ⊙ U:
/// Bᵀ = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1],
/// G = [¼ 0 0; -⅙ -⅙ -⅙; -⅙ ⅙ -⅙; 1/24 1/12 ⅙; 1/24 -1/12 ⅙; 0 0 1],
/// Aᵀ = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].
/// Each transform is one fixed chain of adds, multiplies and fused multiply-adds (<see cref="InputPoints"/>,
/// <see cref="KernelPoints"/>, <see cref="OutputPoints"/>), the same in the AVX2 kernels and in their scalar twins
/// (<see cref="ForwardReference"/>, <see cref="TransformKernelReference"/>), so the bits depend neither on the
/// thread count nor on which of the two runs. Its larger coefficients round more than F(2x2, 3x3)'s: the tests
/// bound the difference from the direct sums accordingly.
/// </remarks>
public static unsafe class Winograd4x4
{
    /// <summary>The 6x6 points of a transformed tile.</summary>
    public const int Points = 36;

    /// <summary>The side of an output tile.</summary>
    private const int Tile = 4;

    /// <summary>The side of an input block.</summary>
    private const int Side = Tile + 2;

    /// <summary>Filters per packed panel of a transformed kernel: the AVX2 product tile's two vectors.</summary>
    public const int PanelWidth = 16;

    private const int Panel = PanelWidth;

    /// <summary>
    /// Tiles transformed, multiplied and transformed back together: one product tile's 6 rows. (Single-core A/B on the
    /// model's four shapes: 12 and 24 tiles took 1.03-1.24x the time of 6, whose points lie 6·C floats apart; 18 and
    /// 30 the same as 6.)
    /// </summary>
    private const int BlockTiles = 6;

    /// <summary>Floats between one point's rows of V (or M) and the next point's: one cache line (single-core A/B 0.93-0.99 of the time on the four shapes).</summary>
    private const int PointPadding = 16;

    /// <summary>Rows of the product tiles.</summary>
    private const int RowTile = 6;

    /// <summary>True when the SIMD kernels run (the same conditions as <see cref="Winograd.IsSupported"/>); else the scalar twins.</summary>
    public static bool IsSupported(in ConvGeometry geometry, int filters) => Winograd.IsSupported(geometry, filters);

    /// <summary>The length of a transformed kernel: 36 · C · F.</summary>
    public static int TransformedLength(int channels, int filters) => Points * channels * filters;

    /// <summary>Output tiles (4x4 blocks, the last row and column possibly cut) of one example.</summary>
    public static int TilesPerExample(in ConvGeometry geometry) => ((geometry.OutputHeight + Tile - 1) / Tile) * ((geometry.OutputWidth + Tile - 1) / Tile);

    /// <summary>Bᵀ·x of 6 values (one column or row of an input block): the input transform's one chain.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputPoints(Vector256<float> x0, Vector256<float> x1, Vector256<float> x2, Vector256<float> x3, Vector256<float> x4, Vector256<float> x5,
        out Vector256<float> y0, out Vector256<float> y1, out Vector256<float> y2, out Vector256<float> y3, out Vector256<float> y4, out Vector256<float> y5)
    {
        Vector256<float> four = Vector256.Create(4f), minusFour = Vector256.Create(-4f), minusFive = Vector256.Create(-5f);
        Vector256<float> a = Vector256.FusedMultiplyAdd(minusFour, x2, x4), b = Vector256.FusedMultiplyAdd(minusFour, x1, x3);
        Vector256<float> c = x4 - x2, d = (x3 - x1) * Vector256.Create(2f);
        y0 = Vector256.FusedMultiplyAdd(four, x0, Vector256.FusedMultiplyAdd(minusFive, x2, x4));
        y1 = a + b;
        y2 = a - b;
        y3 = c + d;
        y4 = c - d;
        y5 = Vector256.FusedMultiplyAdd(four, x1, Vector256.FusedMultiplyAdd(minusFive, x3, x5));
    }

    /// <summary>The scalar twin of the vector <see cref="InputPoints(Vector256{float}, Vector256{float}, Vector256{float}, Vector256{float}, Vector256{float}, Vector256{float}, out Vector256{float}, out Vector256{float}, out Vector256{float}, out Vector256{float}, out Vector256{float}, out Vector256{float})"/>: x[0, s, 2s, ...] into y[0, t, 2t, ...].</summary>
    private static void InputPoints(ReadOnlySpan<float> x, int s, Span<float> y, int t)
    {
        float x0 = x[0], x1 = x[s], x2 = x[2 * s], x3 = x[3 * s], x4 = x[4 * s], x5 = x[5 * s];
        float a = MathF.FusedMultiplyAdd(-4f, x2, x4), b = MathF.FusedMultiplyAdd(-4f, x1, x3);
        float c = x4 - x2, d = (x3 - x1) * 2f;
        y[0] = MathF.FusedMultiplyAdd(4f, x0, MathF.FusedMultiplyAdd(-5f, x2, x4));
        y[t] = a + b;
        y[2 * t] = a - b;
        y[3 * t] = c + d;
        y[4 * t] = c - d;
        y[5 * t] = MathF.FusedMultiplyAdd(4f, x1, MathF.FusedMultiplyAdd(-5f, x3, x5));
    }

    /// <summary>G·g of 3 values (one column or row of a kernel): the kernel transform's one chain.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void KernelPoints(Vector256<float> g0, Vector256<float> g1, Vector256<float> g2,
        out Vector256<float> u0, out Vector256<float> u1, out Vector256<float> u2, out Vector256<float> u3, out Vector256<float> u4, out Vector256<float> u5)
    {
        Vector256<float> sixth = Vector256.Create(-1f / 6f), s = g0 + g2;
        Vector256<float> a = Vector256.FusedMultiplyAdd(g0, Vector256.Create(1f / 24f), g2 * Vector256.Create(1f / 6f)), b = g1 * Vector256.Create(1f / 12f);
        u0 = g0 * Vector256.Create(0.25f);
        u1 = (s + g1) * sixth;
        u2 = (s - g1) * sixth;
        u3 = a + b;
        u4 = a - b;
        u5 = g2;
    }

    /// <summary>The scalar twin of the vector <c>KernelPoints</c>.</summary>
    private static void KernelPoints(float g0, float g1, float g2, Span<float> u, int t)
    {
        float s = g0 + g2;
        float a = MathF.FusedMultiplyAdd(g0, 1f / 24f, g2 * (1f / 6f)), b = g1 * (1f / 12f);
        u[0] = g0 * 0.25f;
        u[t] = (s + g1) * (-1f / 6f);
        u[2 * t] = (s - g1) * (-1f / 6f);
        u[3 * t] = a + b;
        u[4 * t] = a - b;
        u[5 * t] = g2;
    }

    /// <summary>Aᵀ·x of 6 values (one column or row of a tile's points): the output transform's one chain.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputPoints(Vector256<float> x0, Vector256<float> x1, Vector256<float> x2, Vector256<float> x3, Vector256<float> x4, Vector256<float> x5,
        out Vector256<float> y0, out Vector256<float> y1, out Vector256<float> y2, out Vector256<float> y3)
    {
        Vector256<float> s = x1 + x2, t = x1 - x2, u = x3 + x4, w = x3 - x4;
        y0 = x0 + s + u;
        y1 = Vector256.FusedMultiplyAdd(Vector256.Create(2f), w, t);
        y2 = Vector256.FusedMultiplyAdd(Vector256.Create(4f), u, s);
        y3 = Vector256.FusedMultiplyAdd(Vector256.Create(8f), w, t) + x5;
    }

    /// <summary>The scalar twin of the vector <c>OutputPoints</c>: x[0, s, 2s, ...] into y[0, t, 2t, 3t].</summary>
    private static void OutputPoints(ReadOnlySpan<float> x, int s, Span<float> y, int t)
    {
        float x0 = x[0], x1 = x[s], x2 = x[2 * s], x3 = x[3 * s], x4 = x[4 * s], x5 = x[5 * s];
        float a = x1 + x2, b = x1 - x2, c = x3 + x4, w = x3 - x4;
        y[0] = x0 + a + c;
        y[t] = MathF.FusedMultiplyAdd(2f, w, b);
        y[2 * t] = MathF.FusedMultiplyAdd(4f, c, a);
        y[3 * t] = MathF.FusedMultiplyAdd(8f, w, b) + x5;
    }

    /// <summary>
    /// transformed[36][F / 16][C][16] = U = G·g·Gᵀ of kernel[3, 3, C, F] (HWIO), point by point, laid out as panels
    /// of 16 filters (each point's panel rows consecutive) for the product tiles.
    /// </summary>
    public static void TransformKernel(ReadOnlySpan<float> kernel, int channels, int filters, Span<float> transformed) =>
        TransformKernel(kernel, channels, filters, transformed, 0, filters / Panel);

    /// <summary>
    /// <see cref="TransformKernel(ReadOnlySpan{float}, int, int, Span{float})"/> for the panels of 16 filters
    /// [<paramref name="firstPanel"/>, + <paramref name="panels"/>) only, which no other panel's values depend on
    /// (so that the panels can be transformed in parallel).
    /// </summary>
    public static void TransformKernel(ReadOnlySpan<float> kernel, int channels, int filters, Span<float> transformed, int firstPanel, int panels)
    {
        CheckKernel(kernel, channels, filters, transformed);
        if (firstPanel < 0 || panels < 0 || firstPanel + panels > filters / Panel)
        {
            throw new ArgumentOutOfRangeException(nameof(panels), $"Winograd4x4 expects panels within [0, {filters / Panel}) (F / 16); received {panels} from {firstPanel}.");
        }
        if (!Vector256.IsHardwareAccelerated)
        {
            TransformKernelReference(kernel, channels, filters, transformed, firstPanel, panels);
            return;
        }
        fixed (float* g = kernel, u = transformed)
        {
            nint tap = (nint)channels * filters, point = tap;
            for (int panel = firstPanel; panel < firstPanel + panels; panel++)
            {
                // Channel by channel within a panel: each point's 64 bytes of a channel follow the previous channel's.
                for (int c = 0; c < channels; c++)
                {
                    for (int half = 0; half < Panel; half += Vector256<float>.Count)
                    {
                        float* k = g + (nint)c * filters + panel * Panel + half;
                        float* p = u + ((nint)panel * channels + c) * Panel + half;
                        // G·g column by column (6 rows x 3 columns), then each row times Gᵀ.
                        KernelPoints(Vector256.Load(k), Vector256.Load(k + 3 * tap), Vector256.Load(k + 6 * tap),
                            out var a00, out var a10, out var a20, out var a30, out var a40, out var a50);
                        KernelPoints(Vector256.Load(k + tap), Vector256.Load(k + 4 * tap), Vector256.Load(k + 7 * tap),
                            out var a01, out var a11, out var a21, out var a31, out var a41, out var a51);
                        KernelPoints(Vector256.Load(k + 2 * tap), Vector256.Load(k + 5 * tap), Vector256.Load(k + 8 * tap),
                            out var a02, out var a12, out var a22, out var a32, out var a42, out var a52);
                        StoreKernelRow(p, point, a00, a01, a02);
                        StoreKernelRow(p + 6 * point, point, a10, a11, a12);
                        StoreKernelRow(p + 12 * point, point, a20, a21, a22);
                        StoreKernelRow(p + 18 * point, point, a30, a31, a32);
                        StoreKernelRow(p + 24 * point, point, a40, a41, a42);
                        StoreKernelRow(p + 30 * point, point, a50, a51, a52);
                    }
                }
            }
        }
    }

    /// <summary>One row of G·g times Gᵀ: the row's 6 points, <paramref name="point"/> floats apart.</summary>
    private static void StoreKernelRow(float* p, nint point, Vector256<float> g0, Vector256<float> g1, Vector256<float> g2)
    {
        KernelPoints(g0, g1, g2, out var u0, out var u1, out var u2, out var u3, out var u4, out var u5);
        u0.Store(p);
        u1.Store(p + point);
        u2.Store(p + 2 * point);
        u3.Store(p + 3 * point);
        u4.Store(p + 4 * point);
        u5.Store(p + 5 * point);
    }

    /// <summary>The scalar twin of <see cref="TransformKernel"/>: the same operations, value by value.</summary>
    public static void TransformKernelReference(ReadOnlySpan<float> kernel, int channels, int filters, Span<float> transformed) =>
        TransformKernelReference(kernel, channels, filters, transformed, 0, filters / Panel);

    private static void TransformKernelReference(ReadOnlySpan<float> kernel, int channels, int filters, Span<float> transformed, int firstPanel, int panels)
    {
        CheckKernel(kernel, channels, filters, transformed);
        int tap = channels * filters;
        Span<float> a = stackalloc float[18]; // G·g: 6 rows x 3 columns
        Span<float> u = stackalloc float[6];
        for (int c = 0; c < channels; c++)
        {
            for (int f = firstPanel * Panel; f < (firstPanel + panels) * Panel; f++)
            {
                int k = c * filters + f;
                for (int j = 0; j < 3; j++)
                {
                    KernelPoints(kernel[k + j * tap], kernel[k + (3 + j) * tap], kernel[k + (6 + j) * tap], a.Slice(j), 3);
                }
                for (int r = 0; r < Side; r++)
                {
                    KernelPoints(a[3 * r], a[3 * r + 1], a[3 * r + 2], u, 1);
                    for (int i = 0; i < Side; i++)
                    {
                        transformed[TransformedIndex(r * Side + i, c, f, channels, filters)] = u[i];
                    }
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
        CheckForwardInputs(input, transformedKernel, bias, geometry, filters, examples);
        Check(output.Length, (long)examples * geometry.OutputPixels * filters, nameof(output), "N·OH·OW·F");
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
    /// <see cref="Forward"/> followed by <see cref="MaxPool.Forward"/> over its output, without the output: each 2x2
    /// window of a tile is pooled as the tile is transformed back (the pool must be 2x2 with strides of 2 over the
    /// output's 2x2 blocks from its top-left corner: <see cref="Winograd.PoolsTiles"/>). pooled[N, POH, POW, F] and
    /// argmax (unless empty) receive the same values and winners, indices into the convolution's [OH, OW, F] output
    /// of each example, as that pair of calls.
    /// </summary>
    public static void ForwardPooled(ReadOnlySpan<float> input, ReadOnlySpan<float> transformedKernel, ReadOnlySpan<float> bias,
        in ConvGeometry geometry, int filters, int examples, bool relu, in ConvGeometry pool, Span<float> pooled, Span<int> argmax)
    {
        CheckForwardInputs(input, transformedKernel, bias, geometry, filters, examples);
        MaxPool.CheckPoolsBlocks2x2("Winograd4x4.ForwardPooled", geometry.OutputHeight, geometry.OutputWidth, filters, pool);
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

    [ThreadStatic]
    private static float[]? t_scratch;

    /// <summary>
    /// The SIMD forward: into <paramref name="outputPointer"/> [N, OH, OW, F], or, when it is null, pooled window by
    /// window into <paramref name="pooledPointer"/> [N, POH, POW, F] (and <paramref name="argmaxPointer"/> unless null).
    /// </summary>
    private static void ForwardCore(ReadOnlySpan<float> input, ReadOnlySpan<float> transformedKernel, ReadOnlySpan<float> bias,
        in ConvGeometry geometry, int filters, int examples, bool relu, float* outputPointer, float* pooledPointer, int* argmaxPointer, in ConvGeometry pool)
    {
        int channels = geometry.Channels;
        // A point's rows of V and M, then a cache line of padding: points a power-of-two multiple apart would share a
        // few L1 sets (6·128 floats apart, the 36 points of a tile fall into 4 of its 64 sets).
        nint vStride = (nint)BlockTiles * channels + PointPadding, mStride = (nint)BlockTiles * filters + PointPadding;
        int transformedLength = Points * (int)vStride, productLength = Points * (int)mStride;
        int scratchLength = transformedLength + productLength + Points * Vector256<float>.Count;
        if (t_scratch is null || t_scratch.Length < scratchLength)
        {
            t_scratch = GC.AllocateUninitializedArray<float>(scratchLength, pinned: true);
        }
        float* scratch = (float*)Unsafe.AsPointer(ref t_scratch[0]); // pinned
        float* zeros = stackalloc float[Math.Max(channels, filters)];
        new Span<float>(zeros, Math.Max(channels, filters)).Clear();
        float* discard = stackalloc float[filters];
        float** inputCells = stackalloc float*[Points];
        float** outputCells = stackalloc float*[Tile * Tile];
        nint pooledLength = (nint)pool.OutputPixels * filters;
        fixed (float* inputPointer = input, kernelPointer = transformedKernel, biasPointer = bias)
        {
            var walk = new Winograd.TileWalk(geometry, Tile, inputPointer, outputPointer, filters, zeros, discard);
            int tiles = examples * TilesPerExample(geometry);
            float* v = scratch, m = scratch + transformedLength, columns = m + productLength;
            float* b = bias.IsEmpty ? null : biasPointer;
            for (int first = 0; first < tiles; first += BlockTiles)
            {
                int count = Math.Min(BlockTiles, tiles - first);
                for (int t = 0; t < count; t++)
                {
                    walk.InputCells(first + t, inputCells);
                    TransformInput(inputCells, channels, v + (nint)t * channels, vStride, columns);
                }
                for (int point = 0; point < Points; point++)
                {
                    float* vPoint = v + point * vStride, mPoint = m + point * mStride;
                    float* uPoint = kernelPointer + (nint)point * channels * filters;
                    for (int t = 0; t < count; t += RowTile)
                    {
                        Winograd.ProductRows(vPoint + (nint)t * channels, Math.Min(RowTile, count - t), uPoint, channels, filters, mPoint + (nint)t * filters);
                    }
                }
                for (int t = 0; t < count; t++)
                {
                    float* mTile = m + (nint)t * filters;
                    if (outputPointer is not null)
                    {
                        walk.OutputCells(first + t, outputCells);
                        for (int f = 0; f < filters; f += Vector256<float>.Count)
                        {
                            TransformOutput(mTile + f, mStride, b is null ? null : b + f, relu, columns, outputCells, f);
                        }
                        continue;
                    }
                    var (n, y, x) = walk.Locate(first + t);
                    for (int f = 0; f < filters; f += Vector256<float>.Count)
                    {
                        TransformOutputPooled(mTile + f, mStride, b is null ? null : b + f, relu, columns, f, y, x, geometry.OutputHeight, geometry.OutputWidth,
                            pool.OutputWidth, filters, pooledPointer + n * pooledLength, argmaxPointer is null ? null : argmaxPointer + n * pooledLength);
                    }
                }
            }
        }
    }

    /// <summary>
    /// V = Bᵀ·d·B for every 8 channels of one tile (its 36 points, <paramref name="pointStride"/> floats apart, from
    /// <paramref name="v"/>): <paramref name="cells"/> are its 36 input cells, row by row; <paramref name="columns"/>
    /// holds Bᵀ·d (36 vectors) between the two passes.
    /// </summary>
    private static void TransformInput(float** cells, int channels, float* v, nint pointStride, float* columns)
    {
        for (int c = 0; c < channels; c += Vector256<float>.Count)
        {
            for (int j = 0; j < Side; j++)
            {
                InputPoints(Vector256.Load(cells[j] + c), Vector256.Load(cells[Side + j] + c), Vector256.Load(cells[2 * Side + j] + c),
                    Vector256.Load(cells[3 * Side + j] + c), Vector256.Load(cells[4 * Side + j] + c), Vector256.Load(cells[5 * Side + j] + c),
                    out var y0, out var y1, out var y2, out var y3, out var y4, out var y5);
                float* column = columns + j * Vector256<float>.Count;
                y0.Store(column);
                y1.Store(column + Side * 8);
                y2.Store(column + 2 * Side * 8);
                y3.Store(column + 3 * Side * 8);
                y4.Store(column + 4 * Side * 8);
                y5.Store(column + 5 * Side * 8);
            }
            for (int r = 0; r < Side; r++)
            {
                float* row = columns + r * Side * 8;
                InputPoints(Vector256.Load(row), Vector256.Load(row + 8), Vector256.Load(row + 16), Vector256.Load(row + 24), Vector256.Load(row + 32), Vector256.Load(row + 40),
                    out var y0, out var y1, out var y2, out var y3, out var y4, out var y5);
                float* p = v + c + r * Side * pointStride;
                y0.Store(p);
                y1.Store(p + pointStride);
                y2.Store(p + 2 * pointStride);
                y3.Store(p + 3 * pointStride);
                y4.Store(p + 4 * pointStride);
                y5.Store(p + 5 * pointStride);
            }
        }
    }

    /// <summary>
    /// Aᵀ·M for 8 filters of one tile: its 36 points (<paramref name="pointStride"/> floats apart from <paramref name="m"/>)
    /// into <paramref name="rows"/> (4 rows x 6 columns of vectors).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputColumns(float* m, nint pointStride, float* rows)
    {
        for (int j = 0; j < Side; j++)
        {
            float* p = m + j * pointStride;
            OutputPoints(Vector256.Load(p), Vector256.Load(p + Side * pointStride), Vector256.Load(p + 2 * Side * pointStride),
                Vector256.Load(p + 3 * Side * pointStride), Vector256.Load(p + 4 * Side * pointStride), Vector256.Load(p + 5 * Side * pointStride),
                out var y0, out var y1, out var y2, out var y3);
            float* column = rows + j * 8;
            y0.Store(column);
            y1.Store(column + Side * 8);
            y2.Store(column + 2 * Side * 8);
            y3.Store(column + 3 * Side * 8);
        }
    }

    /// <summary>Row <paramref name="r"/> of Y = (Aᵀ·M)·A for 8 filters, plus the bias (unless null) and through ReLU when <paramref name="relu"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputRow(float* rows, int r, float* bias, bool relu,
        out Vector256<float> y0, out Vector256<float> y1, out Vector256<float> y2, out Vector256<float> y3)
    {
        float* row = rows + r * Side * 8;
        OutputPoints(Vector256.Load(row), Vector256.Load(row + 8), Vector256.Load(row + 16), Vector256.Load(row + 24), Vector256.Load(row + 32), Vector256.Load(row + 40),
            out y0, out y1, out y2, out y3);
        if (bias is not null)
        {
            Vector256<float> b = Vector256.Load(bias);
            y0 += b; y1 += b; y2 += b; y3 += b;
        }
        if (relu)
        {
            y0 = Vector256.Max(y0, Vector256<float>.Zero); y1 = Vector256.Max(y1, Vector256<float>.Zero);
            y2 = Vector256.Max(y2, Vector256<float>.Zero); y3 = Vector256.Max(y3, Vector256<float>.Zero);
        }
    }

    /// <summary>Y = Aᵀ·M·A for filters f..f+7 of one tile, plus the bias and through ReLU, into its 16 output cells (a discard row outside).</summary>
    private static void TransformOutput(float* m, nint pointStride, float* bias, bool relu, float* rows, float** cells, int f)
    {
        OutputColumns(m, pointStride, rows);
        for (int r = 0; r < Tile; r++)
        {
            OutputRow(rows, r, bias, relu, out var y0, out var y1, out var y2, out var y3);
            float** cell = cells + r * Tile;
            y0.Store(cell[0] + f);
            y1.Store(cell[1] + f);
            y2.Store(cell[2] + f);
            y3.Store(cell[3] + f);
        }
    }

    /// <summary>
    /// <see cref="TransformOutput"/>'s 16 values of filters f..f+7 of the tile whose top-left pixel is (y, x), max-pooled
    /// window by window as <see cref="MaxPool"/> does (<see cref="MaxPool.PoolWindow256"/>; pixels and windows outside
    /// the output skipped): each window's value into <paramref name="pooled"/> [POH, POW, F], its winner into
    /// <paramref name="winners"/> unless null.
    /// </summary>
    private static void TransformOutputPooled(float* m, nint pointStride, float* bias, bool relu, float* rows, int f, int y, int x,
        int outputHeight, int outputWidth, int pooledWidth, int filters, float* pooled, int* winners)
    {
        OutputColumns(m, pointStride, rows);
        for (int r = 0; r < Tile && y + r < outputHeight; r += 2)
        {
            OutputRow(rows, r, bias, relu, out var a0, out var a1, out var a2, out var a3);
            OutputRow(rows, r + 1, bias, relu, out var b0, out var b1, out var b2, out var b3);
            bool below = y + r + 1 < outputHeight;
            int cell = ((y + r) * outputWidth + x) * filters, window = ((y + r) / 2 * pooledWidth + x / 2) * filters;
            int nextRow = outputWidth * filters;
            MaxPool.PoolWindow256(pooled + window + f, winners is null ? null : winners + window + f, f, a0, a1, b0, b1,
                cell, cell + filters, cell + nextRow, cell + nextRow + filters, x + 1 < outputWidth, below);
            if (x + 2 < outputWidth)
            {
                cell += 2 * filters;
                window += filters;
                MaxPool.PoolWindow256(pooled + window + f, winners is null ? null : winners + window + f, f, a2, a3, b2, b3,
                    cell, cell + filters, cell + nextRow, cell + nextRow + filters, x + 3 < outputWidth, below);
            }
        }
    }

    /// <summary>
    /// The scalar twin of <see cref="Forward"/>: the same transforms, products (one fused multiply-add chain per point,
    /// filter and tile, over the channels in order, from zero) and inverse transforms, value by value.
    /// </summary>
    public static void ForwardReference(ReadOnlySpan<float> input, ReadOnlySpan<float> transformedKernel, ReadOnlySpan<float> bias,
        in ConvGeometry geometry, int filters, int examples, bool relu, Span<float> output)
    {
        CheckForwardInputs(input, transformedKernel, bias, geometry, filters, examples);
        Check(output.Length, (long)examples * geometry.OutputPixels * filters, nameof(output), "N·OH·OW·F");
        int channels = geometry.Channels, outputLength = geometry.OutputPixels * filters;
        var d = new float[Points];
        var columns = new float[Points];
        var v = new float[Points * channels];
        var m = new float[Points];
        var rows = new float[Tile * Side];
        var y = new float[Tile * Tile];
        for (int n = 0; n < examples; n++)
        {
            for (int ty = 0; ty < geometry.OutputHeight; ty += Tile)
            {
                for (int tx = 0; tx < geometry.OutputWidth; tx += Tile)
                {
                    for (int c = 0; c < channels; c++)
                    {
                        for (int i = 0; i < Points; i++)
                        {
                            d[i] = InputValue(input, geometry, n, ty + i / Side, tx + i % Side, c);
                        }
                        for (int j = 0; j < Side; j++)
                        {
                            InputPoints(d.AsSpan(j), Side, columns.AsSpan(j), Side); // Bᵀ·d, column by column
                        }
                        for (int r = 0; r < Side; r++)
                        {
                            InputPoints(columns.AsSpan(r * Side), 1, d.AsSpan(r * Side), 1); // then each row times B
                        }
                        for (int i = 0; i < Points; i++)
                        {
                            v[i * channels + c] = d[i];
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
                        for (int j = 0; j < Side; j++)
                        {
                            OutputPoints(m.AsSpan(j), Side, rows.AsSpan(j), Side); // Aᵀ·M, column by column
                        }
                        for (int r = 0; r < Tile; r++)
                        {
                            OutputPoints(rows.AsSpan(r * Side), 1, y.AsSpan(r * Tile), 1); // then each row times A
                        }
                        for (int i = 0; i < Tile * Tile; i++)
                        {
                            int r = ty + i / Tile, col = tx + i % Tile;
                            if (r >= geometry.OutputHeight || col >= geometry.OutputWidth)
                            {
                                continue;
                            }
                            float value = y[i];
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
            throw new ArgumentOutOfRangeException(nameof(filters), $"Winograd4x4 expects C >= 1 and F a positive multiple of {Panel}; received C={channels}, F={filters}.");
        }
        if (channels % Vector256<float>.Count != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(channels), $"Winograd4x4 expects C a multiple of {Vector256<float>.Count}; received C={channels}.");
        }
        Check(kernel.Length, 9L * channels * filters, nameof(kernel), "3·3·C·F");
        Check(transformed.Length, (long)Points * channels * filters, nameof(transformed), "36·C·F");
    }

    private static void CheckForwardInputs(ReadOnlySpan<float> input, ReadOnlySpan<float> transformedKernel, ReadOnlySpan<float> bias,
        in ConvGeometry geometry, int filters, int examples)
    {
        if (geometry.KernelHeight != 3 || geometry.KernelWidth != 3 || geometry.StrideHeight != 1 || geometry.StrideWidth != 1)
        {
            throw new ArgumentException($"Winograd F(4x4, 3x3) expects a 3x3 kernel with strides of 1; received {geometry.KernelHeight}x{geometry.KernelWidth} with strides {geometry.StrideHeight}x{geometry.StrideWidth}.", nameof(geometry));
        }
        if (examples < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(examples), $"Winograd4x4 expects examples >= 0; received {examples}.");
        }
        if (filters < 1 || filters % Panel != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(filters), $"Winograd4x4 expects F a positive multiple of {Panel}; received F={filters}.");
        }
        Check(input.Length, (long)examples * geometry.InputLength, nameof(input), "N·H·W·C");
        Check(transformedKernel.Length, (long)Points * geometry.Channels * filters, nameof(transformedKernel), "36·C·F");
        if (!bias.IsEmpty)
        {
            Check(bias.Length, filters, nameof(bias), "F");
        }
    }

    private static void Check(long actual, long expected, string name, string shape)
    {
        if (actual < expected)
        {
            throw new ArgumentException($"Winograd4x4: {name} has {actual} values; expected at least {expected} ({shape}).", name);
        }
    }
}
