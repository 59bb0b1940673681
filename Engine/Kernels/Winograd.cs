using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Kernels;

/// <summary>
/// 3x3 stride-1 convolution by Winograd's minimal filtering F(4x4, 3x3) (Lavin and Gray, 2016): the forward and
/// both gradients of the model's conv2 and conv3 on AVX2 and AVX-512 machines. Each 4x4 block of output pixels (a tile) is
/// computed from the 6x6 block of padded input under it (the zeros read in place): the block and the kernel are
/// transformed into 36 points, multiplied point by point and summed over the channels (36 products [tiles, C] x
/// [C, F], the same 6x16 product tile as <see cref="Winograd"/>'s), and the 36 sums are transformed back into the
/// 16 outputs. That is 36 multiply-adds per tile, channel and filter where the convolution takes 144: 4x fewer
/// (F(2x2, 3x3): 2.25x). The kernel gradient sums the gradient of U over the tiles in the same 36 points
/// (<see cref="WeightGradient"/>) and takes it back to the 3x3 taps (<see cref="FinishWeightGradient"/>).
/// </summary>
/// <remarks>
/// With V = Bᵀ·d·B (input block d, 6x6), U = G·g·Gᵀ (kernel g, 3x3), Y = Aᵀ·M·A, M = Σ over channels of V ⊙ U:
/// Bᵀ = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1],
/// G = [¼ 0 0; -⅙ -⅙ -⅙; -⅙ ⅙ -⅙; 1/24 1/12 ⅙; 1/24 -1/12 ⅙; 0 0 1],
/// Aᵀ = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].
/// Each transform is one fixed chain of adds, multiplies and fused multiply-adds (<see cref="InputPoints"/>,
/// <see cref="KernelPoints"/>, <see cref="OutputPoints"/>), the same in the SIMD kernels (at either vector width) and in their scalar twins
/// (<see cref="ForwardReference"/>, <see cref="TransformKernelReference"/>), so the bits depend neither on the
/// thread count nor on which of the two runs. Its larger coefficients round more than F(2x2, 3x3)'s: the tests
/// bound the difference from the direct sums accordingly.
/// </remarks>
public static unsafe class Winograd
{
    /// <summary>The 6x6 points of a transformed tile.</summary>
    public const int Points = 36;

    /// <summary>The side of an output tile.</summary>
    private const int Tile = 4;

    /// <summary>The side of an input block.</summary>
    private const int Side = Tile + 2;

    /// <summary>The rows of the 6x6 points: the kernel gradient can sum each row's 6 points on its own.</summary>
    public const int PointRows = Side;

    /// <summary>Filters per packed panel of a transformed kernel: the AVX2 product tile's two vectors.</summary>
    public const int PanelWidth = 16;

    private const int Panel = PanelWidth;

    /// <summary>
    /// Tiles transformed, multiplied and transformed back together while the transformed kernel is small: one product
    /// tile's 6 rows. (Single-core A/B on the Zen 3 machine, the model's four shapes: 12 and 24 tiles took 1.03-1.24x
    /// the time of 6, whose points lie 6·C floats apart; 18 and 30 the same as 6.)
    /// </summary>
    private const int BlockTiles = 6;

    /// <summary>
    /// Tiles of a block when the transformed kernel (36·C·F floats, read whole once per block) is larger than
    /// <see cref="LargeKernelBytes"/>: conv3's 1.2 MB does not stay in a 1 MB L2, so each block read it from L3, and on two
    /// cores both read it at once. 24 tiles read it a quarter as often (Zen 5, 2 threads, 5 A/B pairs: conv3's forward
    /// 0.91 of the time, its backward 0.93, the step 0.96; 48 the same as 24; 12 the same in the forward, 0.97 in the backward).
    /// </summary>
    private const int LargeKernelBlockTiles = 24;

    /// <summary>The size of a transformed kernel from which a block takes <see cref="LargeKernelBlockTiles"/>: half of a 1 MB L2.</summary>
    private const long LargeKernelBytes = 512 * 1024;

    /// <summary>The tiles of a forward block for C <paramref name="channels"/> and F <paramref name="filters"/>.</summary>
    private static int ForwardBlockTiles(int channels, int filters) =>
        (long)Points * channels * filters * sizeof(float) > LargeKernelBytes ? LargeKernelBlockTiles : BlockTiles;

    /// <summary>Floats between one point's rows of V (or M) and the next point's: one cache line (single-core A/B 0.93-0.99 of the time on the four shapes).</summary>
    private const int PointPadding = 16;

    /// <summary>Rows of the product tiles.</summary>
    private const int RowTile = 6;

    /// <summary>
    /// Whether the kernels run 512-bit vectors (the transforms while 16 channels remain, the product tiles over two 16-filter
    /// panels, one vector each). Every value is the same chain at either width, so the bits do not depend on it.
    /// </summary>
    private static bool Wide => Vector512.IsHardwareAccelerated && Avx512F.IsSupported;

    /// <summary>Where the 512-bit vectors of a row of <paramref name="length"/> channels or filters end (0 without <see cref="Wide"/>): 256-bit ones take the rest.</summary>
    private static int WideEnd(int length) => Wide ? length - length % Float512.Count : 0;

    /// <summary>Where the pairs of 16-filter panels the 512-bit product tiles take end (0 without <see cref="Wide"/>): the 256-bit tiles take a last odd panel.</summary>
    private static int WidePanels(int filters) => Wide ? filters - filters % (2 * Panel) : 0;

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


    /// <summary>
    /// Whether <paramref name="pool"/> (the geometry of a max pool over this convolution's output) is a 2x2 pool with strides
    /// of 2 over the output's 2x2 blocks from its top-left corner (SAME, or VALID with even sizes), so that
    /// <see cref="ForwardPooled"/> can pool each tile's four windows as it makes them.
    /// </summary>
    public static bool PoolsTiles(in ConvGeometry geometry, int filters, in ConvGeometry pool) =>
        MaxPool.PoolsBlocks2x2(geometry.OutputHeight, geometry.OutputWidth, filters, pool);

    /// <summary>The length of a transformed kernel: 36 · C · F.</summary>
    public static int TransformedLength(int channels, int filters) => Points * channels * filters;

    /// <summary>Output tiles (4x4 blocks, the last row and column possibly cut) of one example.</summary>
    public static int TilesPerExample(in ConvGeometry geometry) => ((geometry.OutputHeight + Tile - 1) / Tile) * ((geometry.OutputWidth + Tile - 1) / Tile);

    /// <summary>Bᵀ·x of 6 values (one column or row of an input block): the input transform's one chain.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputPoints<TV, T>(T x0, T x1, T x2, T x3, T x4, T x5, out T y0, out T y1, out T y2, out T y3, out T y4, out T y5)
        where TV : IFloatVector<T> where T : struct
    {
        T four = TV.Create(4f), minusFour = TV.Create(-4f), minusFive = TV.Create(-5f);
        T a = TV.FusedMultiplyAdd(minusFour, x2, x4), b = TV.FusedMultiplyAdd(minusFour, x1, x3);
        T c = TV.Subtract(x4, x2), d = TV.Multiply(TV.Subtract(x3, x1), TV.Create(2f));
        y0 = TV.FusedMultiplyAdd(four, x0, TV.FusedMultiplyAdd(minusFive, x2, x4));
        y1 = TV.Add(a, b);
        y2 = TV.Subtract(a, b);
        y3 = TV.Add(c, d);
        y4 = TV.Subtract(c, d);
        y5 = TV.FusedMultiplyAdd(four, x1, TV.FusedMultiplyAdd(minusFive, x3, x5));
    }

    /// <summary>The scalar twin of the vector <c>InputPoints</c>: x[0, s, 2s, ...] into y[0, t, 2t, ...].</summary>
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
    private static void KernelPoints<TV, T>(T g0, T g1, T g2, out T u0, out T u1, out T u2, out T u3, out T u4, out T u5)
        where TV : IFloatVector<T> where T : struct
    {
        T sixth = TV.Create(-1f / 6f), s = TV.Add(g0, g2);
        T a = TV.FusedMultiplyAdd(g0, TV.Create(1f / 24f), TV.Multiply(g2, TV.Create(1f / 6f))), b = TV.Multiply(g1, TV.Create(1f / 12f));
        u0 = TV.Multiply(g0, TV.Create(0.25f));
        u1 = TV.Multiply(TV.Add(s, g1), sixth);
        u2 = TV.Multiply(TV.Subtract(s, g1), sixth);
        u3 = TV.Add(a, b);
        u4 = TV.Subtract(a, b);
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
    private static void OutputPoints<TV, T>(T x0, T x1, T x2, T x3, T x4, T x5, out T y0, out T y1, out T y2, out T y3)
        where TV : IFloatVector<T> where T : struct
    {
        T s = TV.Add(x1, x2), t = TV.Subtract(x1, x2), u = TV.Add(x3, x4), w = TV.Subtract(x3, x4);
        y0 = TV.Add(TV.Add(x0, s), u);
        y1 = TV.FusedMultiplyAdd(TV.Create(2f), w, t);
        y2 = TV.FusedMultiplyAdd(TV.Create(4f), u, s);
        y3 = TV.Add(TV.FusedMultiplyAdd(TV.Create(8f), w, t), x5);
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
            throw new ArgumentOutOfRangeException(nameof(panels), $"Winograd expects panels within [0, {filters / Panel}) (F / 16); received {panels} from {firstPanel}.");
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
                    float* k = g + (nint)c * filters + panel * Panel;
                    float* p = u + ((nint)panel * channels + c) * Panel;
                    if (Wide)
                    {
                        TransformKernelVector<Float512, Vector512<float>>(k, tap, p, point);
                    }
                    else
                    {
                        TransformKernelVector<Float256, Vector256<float>>(k, tap, p, point);
                        TransformKernelVector<Float256, Vector256<float>>(k + 8, tap, p + 8, point);
                    }
                }
            }
        }
    }

    /// <summary>Six vectors (a row or column of points) to <paramref name="p"/>, <paramref name="p"/> + <paramref name="stride"/>, ..., + 5·<paramref name="stride"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreSix<TV, T>(float* p, nint stride, T y0, T y1, T y2, T y3, T y4, T y5)
        where TV : IFloatVector<T> where T : struct
    {
        TV.Store(p, y0);
        TV.Store(p + stride, y1);
        TV.Store(p + 2 * stride, y2);
        TV.Store(p + 3 * stride, y3);
        TV.Store(p + 4 * stride, y4);
        TV.Store(p + 5 * stride, y5);
    }

    /// <summary>
    /// U = G·g·Gᵀ of one vector of filters of one channel: <paramref name="k"/> its tap (0, 0) in the kernel (the taps
    /// <paramref name="tap"/> floats apart), <paramref name="p"/> its point 0 in the panels (the points <paramref name="point"/> apart).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TransformKernelVector<TV, T>(float* k, nint tap, float* p, nint point)
        where TV : IFloatVector<T> where T : struct
    {
        // G·g column by column (6 rows x 3 columns), then each row times Gᵀ.
        KernelPoints<TV, T>(TV.Load(k), TV.Load(k + 3 * tap), TV.Load(k + 6 * tap), out var a00, out var a10, out var a20, out var a30, out var a40, out var a50);
        KernelPoints<TV, T>(TV.Load(k + tap), TV.Load(k + 4 * tap), TV.Load(k + 7 * tap), out var a01, out var a11, out var a21, out var a31, out var a41, out var a51);
        KernelPoints<TV, T>(TV.Load(k + 2 * tap), TV.Load(k + 5 * tap), TV.Load(k + 8 * tap), out var a02, out var a12, out var a22, out var a32, out var a42, out var a52);
        StoreKernelRow<TV, T>(p, point, a00, a01, a02);
        StoreKernelRow<TV, T>(p + 6 * point, point, a10, a11, a12);
        StoreKernelRow<TV, T>(p + 12 * point, point, a20, a21, a22);
        StoreKernelRow<TV, T>(p + 18 * point, point, a30, a31, a32);
        StoreKernelRow<TV, T>(p + 24 * point, point, a40, a41, a42);
        StoreKernelRow<TV, T>(p + 30 * point, point, a50, a51, a52);
    }

    /// <summary>One row of G·g times Gᵀ: the row's 6 points, <paramref name="point"/> floats apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreKernelRow<TV, T>(float* p, nint point, T g0, T g1, T g2)
        where TV : IFloatVector<T> where T : struct
    {
        KernelPoints<TV, T>(g0, g1, g2, out var u0, out var u1, out var u2, out var u3, out var u4, out var u5);
        StoreSix<TV, T>(p, point, u0, u1, u2, u3, u4, u5);
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
    /// output's 2x2 blocks from its top-left corner: <see cref="PoolsTiles"/>). pooled[N, POH, POW, F] and
    /// argmax (unless empty) receive the same values and winners, indices into the convolution's [OH, OW, F] output
    /// of each example, as that pair of calls.
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
        int blockTiles = ForwardBlockTiles(channels, filters);
        nint vStride = (nint)blockTiles * channels + PointPadding, mStride = (nint)blockTiles * filters + PointPadding;
        int transformedLength = Points * (int)vStride, productLength = Points * (int)mStride;
        int scratchLength = transformedLength + productLength + Points * Vector512<float>.Count;
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
            var walk = new TileWalk(geometry, inputPointer, outputPointer, filters, zeros, discard);
            int tiles = examples * TilesPerExample(geometry);
            float* v = scratch, m = scratch + transformedLength, columns = m + productLength;
            float* b = bias.IsEmpty ? null : biasPointer;
            int wideChannels = WideEnd(channels), wideFilters = WideEnd(filters), widePanels = WidePanels(filters);
            for (int first = 0; first < tiles; first += blockTiles)
            {
                int count = Math.Min(blockTiles, tiles - first);
                if (pooledPointer is not null)
                {
                    PrefetchPooled(walk, first, count, geometry, pool, filters, pooledPointer, argmaxPointer);
                }
                for (int t = 0; t < count; t++)
                {
                    walk.InputCells(first + t, inputCells);
                    float* vTile = v + (nint)t * channels;
                    for (int c = 0; c < wideChannels; c += Float512.Count)
                    {
                        TransformInput<Float512, Vector512<float>>(inputCells, c, vTile, vStride, columns);
                    }
                    for (int c = wideChannels; c < channels; c += Float256.Count)
                    {
                        TransformInput<Float256, Vector256<float>>(inputCells, c, vTile, vStride, columns);
                    }
                }
                for (int point = 0; point < Points; point++)
                {
                    float* vPoint = v + point * vStride, mPoint = m + point * mStride;
                    float* uPoint = kernelPointer + (nint)point * channels * filters;
                    for (int t = 0; t < count; t += RowTile)
                    {
                        float* vRows = vPoint + (nint)t * channels, mRows = mPoint + (nint)t * filters;
                        int rows = Math.Min(RowTile, count - t);
                        ProductRows<Float512, Vector512<float>>(vRows, rows, uPoint, channels, filters, mRows, 0, widePanels);
                        ProductRows<Float256, Vector256<float>>(vRows, rows, uPoint, channels, filters, mRows, widePanels, filters);
                    }
                }
                for (int t = 0; t < count; t++)
                {
                    float* mTile = m + (nint)t * filters;
                    if (outputPointer is not null)
                    {
                        walk.OutputCells(first + t, outputCells);
                        for (int f = 0; f < wideFilters; f += Float512.Count)
                        {
                            TransformOutput<Float512, Vector512<float>>(mTile + f, mStride, b is null ? null : b + f, relu, columns, outputCells, f);
                        }
                        for (int f = wideFilters; f < filters; f += Float256.Count)
                        {
                            TransformOutput<Float256, Vector256<float>>(mTile + f, mStride, b is null ? null : b + f, relu, columns, outputCells, f);
                        }
                        continue;
                    }
                    var (n, y, x) = walk.Locate(first + t);
                    var target = new PooledTarget(y, x, geometry.OutputHeight, geometry.OutputWidth, pool.OutputWidth, filters,
                        pooledPointer + n * pooledLength, argmaxPointer is null ? null : argmaxPointer + n * pooledLength);
                    for (int f = 0; f < wideFilters; f += Float512.Count)
                    {
                        TransformOutputPooled<Float512, Vector512<float>>(mTile + f, mStride, b is null ? null : b + f, relu, columns, f, target);
                    }
                    for (int f = wideFilters; f < filters; f += Float256.Count)
                    {
                        TransformOutputPooled<Float256, Vector256<float>>(mTile + f, mStride, b is null ? null : b + f, relu, columns, f, target);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Asks for the lines of the pooled values and winners that tiles [first, first + count) will write, before the
    /// block's products: they are in memory (written once per step), and the products take long enough to hide that.
    /// </summary>
    private static void PrefetchPooled(in TileWalk walk, int first, int count, in ConvGeometry geometry, in ConvGeometry pool, int filters,
        float* pooledPointer, int* argmaxPointer)
    {
        if (!Sse.IsSupported)
        {
            return;
        }
        nint pooledLength = (nint)pool.OutputPixels * filters;
        for (int t = 0; t < count; t++)
        {
            var (n, y, x) = walk.Locate(first + t);
            int windows = x + 2 < geometry.OutputWidth ? 2 : 1;
            for (int r = 0; r < Tile && y + r < geometry.OutputHeight; r += 2)
            {
                nint window = n * pooledLength + ((nint)(y + r) / 2 * pool.OutputWidth + x / 2) * filters;
                for (int line = 0; line < windows * filters; line += 16)
                {
                    Sse.Prefetch0(pooledPointer + window + line);
                    if (argmaxPointer is not null)
                    {
                        Sse.Prefetch0(argmaxPointer + window + line);
                    }
                }
            }
        }
    }

    /// <summary>
    /// V = Bᵀ·d·B for one vector of channels from <paramref name="c"/> of one tile (its 36 points,
    /// <paramref name="pointStride"/> floats apart, from <paramref name="v"/>): <paramref name="cells"/> are its 36 input
    /// cells, row by row; <paramref name="columns"/> holds Bᵀ·d (36 vectors) between the two passes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TransformInput<TV, T>(float** cells, int c, float* v, nint pointStride, float* columns)
        where TV : IFloatVector<T> where T : struct
    {
        int n = TV.Count;
        for (int j = 0; j < Side; j++)
        {
            InputPoints<TV, T>(TV.Load(cells[j] + c), TV.Load(cells[Side + j] + c), TV.Load(cells[2 * Side + j] + c),
                TV.Load(cells[3 * Side + j] + c), TV.Load(cells[4 * Side + j] + c), TV.Load(cells[5 * Side + j] + c),
                out var y0, out var y1, out var y2, out var y3, out var y4, out var y5);
            StoreSix<TV, T>(columns + j * n, Side * n, y0, y1, y2, y3, y4, y5);
        }
        for (int r = 0; r < Side; r++)
        {
            float* row = columns + r * Side * n;
            InputPoints<TV, T>(TV.Load(row), TV.Load(row + n), TV.Load(row + 2 * n), TV.Load(row + 3 * n), TV.Load(row + 4 * n), TV.Load(row + 5 * n),
                out var y0, out var y1, out var y2, out var y3, out var y4, out var y5);
            StoreSix<TV, T>(v + c + r * Side * pointStride, pointStride, y0, y1, y2, y3, y4, y5);
        }
    }

    /// <summary>
    /// Aᵀ·M for one vector of filters of one tile: its 36 points (<paramref name="pointStride"/> floats apart from
    /// <paramref name="m"/>) into <paramref name="rows"/> (4 rows x 6 columns of vectors).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputColumns<TV, T>(float* m, nint pointStride, float* rows)
        where TV : IFloatVector<T> where T : struct
    {
        int n = TV.Count;
        for (int j = 0; j < Side; j++)
        {
            float* p = m + j * pointStride;
            OutputPoints<TV, T>(TV.Load(p), TV.Load(p + Side * pointStride), TV.Load(p + 2 * Side * pointStride),
                TV.Load(p + 3 * Side * pointStride), TV.Load(p + 4 * Side * pointStride), TV.Load(p + 5 * Side * pointStride),
                out var y0, out var y1, out var y2, out var y3);
            float* column = rows + j * n;
            TV.Store(column, y0);
            TV.Store(column + Side * n, y1);
            TV.Store(column + 2 * Side * n, y2);
            TV.Store(column + 3 * Side * n, y3);
        }
    }

    /// <summary>Row <paramref name="r"/> of Y = (Aᵀ·M)·A for one vector of filters, plus the bias (unless null) and through ReLU when <paramref name="relu"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputRow<TV, T>(float* rows, int r, float* bias, bool relu, out T y0, out T y1, out T y2, out T y3)
        where TV : IFloatVector<T> where T : struct
    {
        int n = TV.Count;
        float* row = rows + r * Side * n;
        OutputPoints<TV, T>(TV.Load(row), TV.Load(row + n), TV.Load(row + 2 * n), TV.Load(row + 3 * n), TV.Load(row + 4 * n), TV.Load(row + 5 * n),
            out y0, out y1, out y2, out y3);
        if (bias is not null)
        {
            T b = TV.Load(bias);
            y0 = TV.Add(y0, b); y1 = TV.Add(y1, b); y2 = TV.Add(y2, b); y3 = TV.Add(y3, b);
        }
        if (relu)
        {
            y0 = TV.Relu(y0); y1 = TV.Relu(y1);
            y2 = TV.Relu(y2); y3 = TV.Relu(y3);
        }
    }

    /// <summary>Y = Aᵀ·M·A for one vector of filters from f of one tile, plus the bias and through ReLU, into its 16 output cells (a discard row outside).</summary>
    private static void TransformOutput<TV, T>(float* m, nint pointStride, float* bias, bool relu, float* rows, float** cells, int f)
        where TV : IFloatVector<T> where T : struct
    {
        OutputColumns<TV, T>(m, pointStride, rows);
        for (int r = 0; r < Tile; r++)
        {
            OutputRow<TV, T>(rows, r, bias, relu, out var y0, out var y1, out var y2, out var y3);
            float** cell = cells + r * Tile;
            TV.Store(cell[0] + f, y0);
            TV.Store(cell[1] + f, y1);
            TV.Store(cell[2] + f, y2);
            TV.Store(cell[3] + f, y3);
        }
    }

    /// <summary>Where a tile's pooled windows go: the tile's top-left pixel (y, x), the output's and the pool's sizes, and the example's pooled values and winners (unless null).</summary>
    private readonly struct PooledTarget(int y, int x, int outputHeight, int outputWidth, int pooledWidth, int filters, float* pooled, int* winners)
    {
        public readonly int Y = y, X = x, OutputHeight = outputHeight, OutputWidth = outputWidth, PooledWidth = pooledWidth, Filters = filters;
        public readonly float* Pooled = pooled;
        public readonly int* Winners = winners;
    }

    /// <summary>
    /// <see cref="TransformOutput{TV, T}"/>'s 16 values of one vector of filters from f of the tile at
    /// <paramref name="target"/>, max-pooled window by window as <see cref="MaxPool"/> does
    /// (<see cref="MaxPool.PoolWindow{TV, T}"/>; pixels and windows outside the output skipped): each window's value into
    /// the pooled values [POH, POW, F], its winner into the winners unless null.
    /// </summary>
    private static void TransformOutputPooled<TV, T>(float* m, nint pointStride, float* bias, bool relu, float* rows, int f, in PooledTarget target)
        where TV : IFloatVector<T> where T : struct
    {
        OutputColumns<TV, T>(m, pointStride, rows);
        int y = target.Y, x = target.X, outputWidth = target.OutputWidth, filters = target.Filters;
        for (int r = 0; r < Tile && y + r < target.OutputHeight; r += 2)
        {
            OutputRow<TV, T>(rows, r, bias, relu, out var a0, out var a1, out var a2, out var a3);
            OutputRow<TV, T>(rows, r + 1, bias, relu, out var b0, out var b1, out var b2, out var b3);
            bool below = y + r + 1 < target.OutputHeight;
            int cell = ((y + r) * outputWidth + x) * filters, window = ((y + r) / 2 * target.PooledWidth + x / 2) * filters;
            int nextRow = outputWidth * filters;
            MaxPool.PoolWindow<TV, T>(target.Pooled + window + f, target.Winners is null ? null : target.Winners + window + f, f, a0, a1, b0, b1,
                cell, cell + filters, cell + nextRow, cell + nextRow + filters, x + 1 < outputWidth, below);
            if (x + 2 < outputWidth)
            {
                cell += 2 * filters;
                window += filters;
                MaxPool.PoolWindow<TV, T>(target.Pooled + window + f, target.Winners is null ? null : target.Winners + window + f, f, a2, a3, b2, b3,
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

    /// <summary>Row <paramref name="r"/> of Bᵀ·x alone: the same chain as that row of the vector <c>InputPoints</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T InputPoint<TV, T>(int r, T x0, T x1, T x2, T x3, T x4, T x5)
        where TV : IFloatVector<T> where T : struct
    {
        T four = TV.Create(4f), minusFour = TV.Create(-4f), minusFive = TV.Create(-5f);
        switch (r)
        {
            case 0: return TV.FusedMultiplyAdd(four, x0, TV.FusedMultiplyAdd(minusFive, x2, x4));
            case 1: return TV.Add(TV.FusedMultiplyAdd(minusFour, x2, x4), TV.FusedMultiplyAdd(minusFour, x1, x3));
            case 2: return TV.Subtract(TV.FusedMultiplyAdd(minusFour, x2, x4), TV.FusedMultiplyAdd(minusFour, x1, x3));
            case 3: return TV.Add(TV.Subtract(x4, x2), TV.Multiply(TV.Subtract(x3, x1), TV.Create(2f)));
            case 4: return TV.Subtract(TV.Subtract(x4, x2), TV.Multiply(TV.Subtract(x3, x1), TV.Create(2f)));
            default: return TV.FusedMultiplyAdd(four, x1, TV.FusedMultiplyAdd(minusFive, x3, x5));
        }
    }

    /// <summary>A·y of 4 values (one column or row of a tile's dY): the gradient transform's one chain, the adjoint of Aᵀ.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GradientPoints<TV, T>(T y0, T y1, T y2, T y3, out T z0, out T z1, out T z2, out T z3, out T z4, out T z5)
        where TV : IFloatVector<T> where T : struct
    {
        T p = TV.Add(y0, y2), q = TV.Add(y1, y3);
        T r = TV.FusedMultiplyAdd(TV.Create(4f), y2, y0), s = TV.Multiply(TV.FusedMultiplyAdd(TV.Create(4f), y3, y1), TV.Create(2f));
        z0 = y0;
        z1 = TV.Add(p, q);
        z2 = TV.Subtract(p, q);
        z3 = TV.Add(r, s);
        z4 = TV.Subtract(r, s);
        z5 = y3;
    }

    /// <summary>Row <paramref name="k"/> of A·y alone: the same chain as that row of the vector <c>GradientPoints</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T GradientPoint<TV, T>(int k, T y0, T y1, T y2, T y3)
        where TV : IFloatVector<T> where T : struct
    {
        switch (k)
        {
            case 0: return y0;
            case 1: return TV.Add(TV.Add(y0, y2), TV.Add(y1, y3));
            case 2: return TV.Subtract(TV.Add(y0, y2), TV.Add(y1, y3));
            case 3: return TV.Add(TV.FusedMultiplyAdd(TV.Create(4f), y2, y0), TV.Multiply(TV.FusedMultiplyAdd(TV.Create(4f), y3, y1), TV.Create(2f)));
            case 4: return TV.Subtract(TV.FusedMultiplyAdd(TV.Create(4f), y2, y0), TV.Multiply(TV.FusedMultiplyAdd(TV.Create(4f), y3, y1), TV.Create(2f)));
            default: return y3;
        }
    }

    /// <summary>The scalar twin of the vector <c>GradientPoints</c>: y[0, s, 2s, 3s] into z[0, t, ..., 5t].</summary>
    private static void GradientPoints(ReadOnlySpan<float> y, int s, Span<float> z, int t)
    {
        float y0 = y[0], y1 = y[s], y2 = y[2 * s], y3 = y[3 * s];
        float p = y0 + y2, q = y1 + y3;
        float r = MathF.FusedMultiplyAdd(4f, y2, y0), w = MathF.FusedMultiplyAdd(4f, y3, y1) * 2f;
        z[0] = y0;
        z[t] = p + q;
        z[2 * t] = p - q;
        z[3 * t] = r + w;
        z[4 * t] = r - w;
        z[5 * t] = y3;
    }

    /// <summary>Gᵀ·u of 6 values (one column or row of dU): the adjoint of the kernel transform, one chain.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FinishPoints(Vector256<float> u0, Vector256<float> u1, Vector256<float> u2, Vector256<float> u3, Vector256<float> u4, Vector256<float> u5,
        out Vector256<float> g0, out Vector256<float> g1, out Vector256<float> g2)
    {
        Vector256<float> sixth = Vector256.Create(-1f / 6f);
        Vector256<float> s12 = u1 + u2, d12 = u1 - u2, s34 = u3 + u4, d34 = u3 - u4;
        g0 = Vector256.FusedMultiplyAdd(u0, Vector256.Create(0.25f), Vector256.FusedMultiplyAdd(s12, sixth, s34 * Vector256.Create(1f / 24f)));
        g1 = Vector256.FusedMultiplyAdd(d12, sixth, d34 * Vector256.Create(1f / 12f));
        g2 = Vector256.FusedMultiplyAdd(s12, sixth, Vector256.FusedMultiplyAdd(s34, Vector256.Create(1f / 6f), u5));
    }

    /// <summary>The scalar twin of the vector <c>FinishPoints</c>: u[0, s, ..., 5s] into g[0, t, 2t].</summary>
    private static void FinishPoints(ReadOnlySpan<float> u, int s, Span<float> g, int t)
    {
        float u0 = u[0], u1 = u[s], u2 = u[2 * s], u3 = u[3 * s], u4 = u[4 * s], u5 = u[5 * s];
        float s12 = u1 + u2, d12 = u1 - u2, s34 = u3 + u4, d34 = u3 - u4;
        g[0] = MathF.FusedMultiplyAdd(u0, 0.25f, MathF.FusedMultiplyAdd(s12, -1f / 6f, s34 * (1f / 24f)));
        g[t] = MathF.FusedMultiplyAdd(d12, -1f / 6f, d34 * (1f / 12f));
        g[2 * t] = MathF.FusedMultiplyAdd(s12, -1f / 6f, MathF.FusedMultiplyAdd(s34, 1f / 6f, u5));
    }

    /// <summary>Tiles per block of the kernel gradient: the block's cells are found once, its points made a row of 6 at a time.</summary>
    private const int GradientBlockTiles = 128;

    [ThreadStatic]
    private static float[]? t_gradientScratch;

    [ThreadStatic]
    private static nint[]? t_cells;

    /// <summary>
    /// dU[C][36][F] (+)= Σ over the tiles of <paramref name="examples"/> of V[point][t, c] · dM[point][t, f]: V = Bᵀ·d·B
    /// of input[N, H, W, C] padded as in <see cref="Forward"/> and dM = A·dY·Aᵀ of dPre[N, OH, OW, F] (dY of a cut
    /// tile's missing pixels 0), the gradient of U. <see cref="FinishWeightGradient"/> turns dU into the kernel's
    /// gradient; dU of several calls adds up first (each value one fused multiply-add chain, tile after tile).
    /// </summary>
    public static void WeightGradient(ReadOnlySpan<float> input, ReadOnlySpan<float> dPre, in ConvGeometry geometry, int filters, int examples,
        Span<float> dU, bool accumulate) =>
        WeightGradient(input, dPre, geometry, filters, examples, dU, accumulate, firstRow: 0, rows: Side);

    /// <summary>
    /// <see cref="WeightGradient(ReadOnlySpan{float}, ReadOnlySpan{float}, in ConvGeometry, int, int, Span{float}, bool)"/> for
    /// the points of rows [<paramref name="firstRow"/>, + <paramref name="rows"/>) of the 6x6 only (points 6·row to
    /// 6·row + 5), the same bits as the whole call gives them; the other points of dU are not touched. The rows depend on
    /// no other row, so that they can be summed in parallel, each over every tile of the batch.
    /// </summary>
    public static void WeightGradient(ReadOnlySpan<float> input, ReadOnlySpan<float> dPre, in ConvGeometry geometry, int filters, int examples,
        Span<float> dU, bool accumulate, int firstRow, int rows)
    {
        CheckGradient(input, dPre, geometry, filters, examples, dU);
        if (firstRow < 0 || rows < 1 || firstRow + rows > Side)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), $"Expected rows of points within [0, {Side}); received rows [{firstRow}, {firstRow + rows}).");
        }
        int channels = geometry.Channels;
        if (!IsSupported(geometry, filters))
        {
            WeightGradientReference(input, dPre, geometry, filters, examples, dU, accumulate, firstRow, rows);
            return;
        }
        int tiles = examples * TilesPerExample(geometry);
        if (!accumulate && tiles == 0)
        {
            for (int c = 0; c < channels; c++)
            {
                dU.Slice((c * Points + Side * firstRow) * filters, Side * rows * filters).Clear(); // no block to start the chains
            }
        }
        // A pass transforms and multiplies one row of 6 points of a block, so that what the products read stays in L2.
        int transformedLength = Side * GradientBlockTiles * channels, gradientLength = Side * GradientBlockTiles * filters;
        if (t_gradientScratch is null || t_gradientScratch.Length < transformedLength + gradientLength)
        {
            t_gradientScratch = GC.AllocateUninitializedArray<float>(transformedLength + gradientLength, pinned: true);
        }
        if (t_cells is null || t_cells.Length < GradientBlockTiles * (Points + Tile * Tile))
        {
            t_cells = GC.AllocateUninitializedArray<nint>(GradientBlockTiles * (Points + Tile * Tile), pinned: true);
        }
        float* v = (float*)Unsafe.AsPointer(ref t_gradientScratch[0]);  // pinned: [6 points][count][C]
        float* dm = v + transformedLength;                               // [6 points][F / 16][count][16]
        float** inputCells = (float**)Unsafe.AsPointer(ref t_cells[0]);  // pinned: [count][36] input cells
        float** outputCells = inputCells + (nint)GradientBlockTiles * Points; // [count][16] dY cells
        float* zeros = stackalloc float[Math.Max(channels, filters)];
        new Span<float>(zeros, Math.Max(channels, filters)).Clear();
        // C is a multiple of 8, so C mod 6 is 0, 2 or 4: the channels go in rows of 6, then the last 8 or 4 in rows of 4
        // (rows of 6 alone would compute 36 rows for C = 32, 66 for 64).
        int sixRows = channels - (channels % RowTile == 2 ? 8 : channels % RowTile);
        int wideChannels = WideEnd(channels), wideFilters = WideEnd(filters), widePanels = WidePanels(filters);
        fixed (float* inputPointer = input, dPrePointer = dPre, dUPointer = dU)
        {
            var walk = new TileWalk(geometry, inputPointer, dPrePointer, filters, zeros, zeros);
            for (int first = 0; first < tiles; first += GradientBlockTiles)
            {
                int count = Math.Min(GradientBlockTiles, tiles - first);
                bool fromZero = !accumulate && first == 0; // the first block starts dU's chains (no cleared dU to load)
                nint vPoint = (nint)count * channels, dmPoint = (nint)count * filters;
                for (int t = 0; t < count; t++)
                {
                    walk.InputCells(first + t, inputCells + (nint)t * Points);
                    walk.OutputCells(first + t, outputCells + (nint)t * Tile * Tile);
                }
                for (int row = firstRow; row < firstRow + rows; row++)
                {
                    for (int t = 0; t < count; t++)
                    {
                        float** tileInput = inputCells + (nint)t * Points, tileOutput = outputCells + (nint)t * Tile * Tile;
                        float* vTile = v + (nint)t * channels, dmTile = dm + (nint)t * Panel;
                        for (int c = 0; c < wideChannels; c += Float512.Count)
                        {
                            TransformInputRow<Float512, Vector512<float>>(tileInput, row, c, vTile, vPoint);
                        }
                        for (int c = wideChannels; c < channels; c += Float256.Count)
                        {
                            TransformInputRow<Float256, Vector256<float>>(tileInput, row, c, vTile, vPoint);
                        }
                        for (int f = 0; f < wideFilters; f += Float512.Count)
                        {
                            TransformGradientRow<Float512, Vector512<float>>(tileOutput, row, f, filters, dmTile, count);
                        }
                        for (int f = wideFilters; f < filters; f += Float256.Count)
                        {
                            TransformGradientRow<Float256, Vector256<float>>(tileOutput, row, f, filters, dmTile, count);
                        }
                    }
                    for (int k = 0; k < Side; k++)
                    {
                        float* dU0 = dUPointer + (nint)(Side * row + k) * filters; // dU[C][36][F]: rows of a point 36·F apart
                        float* vPointRows = v + k * vPoint, dmPointPanels = dm + k * dmPoint;
                        ProductPoint<Float512, Vector512<float>>(vPointRows, channels, sixRows, count, dmPointPanels, dU0, filters, 0, widePanels, fromZero);
                        ProductPoint<Float256, Vector256<float>>(vPointRows, channels, sixRows, count, dmPointPanels, dU0, filters, widePanels, filters, fromZero);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Row <paramref name="row"/> of V = Bᵀ·d·B (its 6 points, <paramref name="pointStride"/> floats apart) for one
    /// vector of channels from <paramref name="c"/> of one tile: <paramref name="cells"/> are its 36 input cells, row by
    /// row (zeros outside the image).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TransformInputRow<TV, T>(float** cells, int row, int c, float* v, nint pointStride)
        where TV : IFloatVector<T> where T : struct
    {
        T t0 = InputPoint<TV, T>(row, TV.Load(cells[0] + c), TV.Load(cells[6] + c), TV.Load(cells[12] + c), TV.Load(cells[18] + c), TV.Load(cells[24] + c), TV.Load(cells[30] + c));
        T t1 = InputPoint<TV, T>(row, TV.Load(cells[1] + c), TV.Load(cells[7] + c), TV.Load(cells[13] + c), TV.Load(cells[19] + c), TV.Load(cells[25] + c), TV.Load(cells[31] + c));
        T t2 = InputPoint<TV, T>(row, TV.Load(cells[2] + c), TV.Load(cells[8] + c), TV.Load(cells[14] + c), TV.Load(cells[20] + c), TV.Load(cells[26] + c), TV.Load(cells[32] + c));
        T t3 = InputPoint<TV, T>(row, TV.Load(cells[3] + c), TV.Load(cells[9] + c), TV.Load(cells[15] + c), TV.Load(cells[21] + c), TV.Load(cells[27] + c), TV.Load(cells[33] + c));
        T t4 = InputPoint<TV, T>(row, TV.Load(cells[4] + c), TV.Load(cells[10] + c), TV.Load(cells[16] + c), TV.Load(cells[22] + c), TV.Load(cells[28] + c), TV.Load(cells[34] + c));
        T t5 = InputPoint<TV, T>(row, TV.Load(cells[5] + c), TV.Load(cells[11] + c), TV.Load(cells[17] + c), TV.Load(cells[23] + c), TV.Load(cells[29] + c), TV.Load(cells[35] + c));
        InputPoints<TV, T>(t0, t1, t2, t3, t4, t5, out var y0, out var y1, out var y2, out var y3, out var y4, out var y5);
        StoreSix<TV, T>(v + c, pointStride, y0, y1, y2, y3, y4, y5);
    }

    /// <summary>
    /// Row <paramref name="row"/> of dM = A·dY·Aᵀ (6 points) for one vector of filters from <paramref name="f"/> of one
    /// tile, from its 16 dY <paramref name="cells"/> (zeros past the output): written to dm[point][F / 16][count][16]
    /// (F·count floats a point) at this tile's row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TransformGradientRow<TV, T>(float** cells, int row, int f, int filters, float* dm, int count)
        where TV : IFloatVector<T> where T : struct
    {
        nint point = (nint)filters * count;
        T w0 = GradientPoint<TV, T>(row, TV.Load(cells[0] + f), TV.Load(cells[4] + f), TV.Load(cells[8] + f), TV.Load(cells[12] + f));
        T w1 = GradientPoint<TV, T>(row, TV.Load(cells[1] + f), TV.Load(cells[5] + f), TV.Load(cells[9] + f), TV.Load(cells[13] + f));
        T w2 = GradientPoint<TV, T>(row, TV.Load(cells[2] + f), TV.Load(cells[6] + f), TV.Load(cells[10] + f), TV.Load(cells[14] + f));
        T w3 = GradientPoint<TV, T>(row, TV.Load(cells[3] + f), TV.Load(cells[7] + f), TV.Load(cells[11] + f), TV.Load(cells[15] + f));
        GradientPoints<TV, T>(w0, w1, w2, w3, out var z0, out var z1, out var z2, out var z3, out var z4, out var z5);
        StoreSix<TV, T>(dm + (nint)(f / Panel) * Panel * count + f % Panel, point, z0, z1, z2, z3, z4, z5);
    }

    /// <summary>dKernel[3, 3, C, F] = Gᵀ·dU·G: the gradient of the kernel from the gradient of U = G·g·Gᵀ.</summary>
    public static void FinishWeightGradient(ReadOnlySpan<float> dU, int channels, int filters, Span<float> dKernel) =>
        FinishWeightGradient(dU, channels, filters, dKernel, firstChannel: 0, channelCount: channels);

    /// <summary>
    /// <see cref="FinishWeightGradient(ReadOnlySpan{float}, int, int, Span{float})"/> for the channels [<paramref name="firstChannel"/>,
    /// + <paramref name="channelCount"/>) only (their taps of dKernel; the rest is not touched), so that channel ranges can run in parallel.
    /// </summary>
    public static void FinishWeightGradient(ReadOnlySpan<float> dU, int channels, int filters, Span<float> dKernel, int firstChannel, int channelCount)
    {
        CheckFinish(dU, channels, filters, dKernel);
        if (firstChannel < 0 || channelCount < 0 || firstChannel + channelCount > channels)
        {
            throw new ArgumentOutOfRangeException(nameof(channelCount), $"Expected channels within [0, {channels}); received [{firstChannel}, {firstChannel + channelCount}).");
        }
        if (!Vector256.IsHardwareAccelerated)
        {
            FinishWeightGradientReference(dU, channels, filters, dKernel, firstChannel, channelCount);
            return;
        }
        float* h = stackalloc float[3 * Side * Vector256<float>.Count]; // Gᵀ·dU: 3 rows x 6 columns of vectors
        fixed (float* u = dU, k = dKernel)
        {
            nint point = filters, tap = (nint)channels * filters; // dU[C][36][F], dKernel[3, 3][C][F]
            for (int c = firstChannel; c < firstChannel + channelCount; c++)
            {
                for (int f = 0; f < filters; f += Vector256<float>.Count)
                {
                    float* p = u + (nint)c * Points * filters + f;
                    for (int l = 0; l < Side; l++)
                    {
                        float* column = p + l * point;
                        FinishPoints(Vector256.Load(column), Vector256.Load(column + Side * point), Vector256.Load(column + 2 * Side * point),
                            Vector256.Load(column + 3 * Side * point), Vector256.Load(column + 4 * Side * point), Vector256.Load(column + 5 * Side * point),
                            out var g0, out var g1, out var g2);
                        g0.Store(h + l * 8);
                        g1.Store(h + (Side + l) * 8);
                        g2.Store(h + (2 * Side + l) * 8);
                    }
                    float* q = k + (nint)c * filters + f;
                    for (int i = 0; i < 3; i++)
                    {
                        float* row = h + i * Side * 8;
                        FinishPoints(Vector256.Load(row), Vector256.Load(row + 8), Vector256.Load(row + 16), Vector256.Load(row + 24), Vector256.Load(row + 32), Vector256.Load(row + 40),
                            out var g0, out var g1, out var g2);
                        g0.Store(q + 3 * i * tap);
                        g1.Store(q + (3 * i + 1) * tap);
                        g2.Store(q + (3 * i + 2) * tap);
                    }
                }
            }
        }
    }

    /// <summary>The scalar twin of <see cref="FinishWeightGradient"/>.</summary>
    public static void FinishWeightGradientReference(ReadOnlySpan<float> dU, int channels, int filters, Span<float> dKernel)
    {
        CheckFinish(dU, channels, filters, dKernel);
        FinishWeightGradientReference(dU, channels, filters, dKernel, firstChannel: 0, channelCount: channels);
    }

    private static void FinishWeightGradientReference(ReadOnlySpan<float> dU, int channels, int filters, Span<float> dKernel, int firstChannel, int channelCount)
    {
        int tap = channels * filters;
        Span<float> u = stackalloc float[Points];
        Span<float> h = stackalloc float[3 * Side];
        Span<float> g = stackalloc float[3];
        for (int at = firstChannel * filters; at < (firstChannel + channelCount) * filters; at++)
        {
            int c = at / filters, f = at - c * filters;
            for (int i = 0; i < Points; i++)
            {
                u[i] = dU[(c * Points + i) * filters + f];
            }
            for (int l = 0; l < Side; l++)
            {
                FinishPoints(u.Slice(l), Side, h.Slice(l), Side); // Gᵀ·dU, column by column
            }
            for (int i = 0; i < 3; i++)
            {
                FinishPoints(h.Slice(i * Side), 1, g, 1); // then each row times G
                for (int j = 0; j < 3; j++)
                {
                    dKernel[(3 * i + j) * tap + at] = g[j];
                }
            }
        }
    }

    /// <summary>The scalar twin of <see cref="WeightGradient(ReadOnlySpan{float}, ReadOnlySpan{float}, in ConvGeometry, int, int, Span{float}, bool)"/>: the same transforms and chains, value by value.</summary>
    public static void WeightGradientReference(ReadOnlySpan<float> input, ReadOnlySpan<float> dPre, in ConvGeometry geometry, int filters, int examples,
        Span<float> dU, bool accumulate)
    {
        CheckGradient(input, dPre, geometry, filters, examples, dU);
        WeightGradientReference(input, dPre, geometry, filters, examples, dU, accumulate, firstRow: 0, rows: Side);
    }

    /// <summary>The scalar twin for the points of rows [<paramref name="firstRow"/>, + <paramref name="rows"/>) only.</summary>
    private static void WeightGradientReference(ReadOnlySpan<float> input, ReadOnlySpan<float> dPre, in ConvGeometry geometry, int filters, int examples,
        Span<float> dU, bool accumulate, int firstRow, int rows)
    {
        int channels = geometry.Channels;
        int firstPoint = Side * firstRow, endPoint = Side * (firstRow + rows);
        if (!accumulate)
        {
            for (int c = 0; c < channels; c++)
            {
                dU.Slice((c * Points + firstPoint) * filters, (endPoint - firstPoint) * filters).Clear();
            }
        }
        int outputLength = geometry.OutputPixels * filters;
        int outputHeight = geometry.OutputHeight, outputWidth = geometry.OutputWidth;
        var v = new float[Points * channels];
        var dm = new float[Points * filters];
        var d = new float[Points];
        var columns = new float[Points];
        var dy = new float[Tile * Tile];
        var gradientRows = new float[Side * Tile];
        var points = new float[Points];
        for (int n = 0; n < examples; n++)
        {
            for (int ty = 0; ty < outputHeight; ty += Tile)
            {
                for (int tx = 0; tx < outputWidth; tx += Tile)
                {
                    for (int c = 0; c < channels; c++)
                    {
                        for (int i = 0; i < Points; i++)
                        {
                            d[i] = InputValue(input, geometry, n, ty + i / Side, tx + i % Side, c);
                        }
                        for (int j = 0; j < Side; j++)
                        {
                            InputPoints(d.AsSpan(j), Side, columns.AsSpan(j), Side);
                        }
                        for (int r = 0; r < Side; r++)
                        {
                            InputPoints(columns.AsSpan(r * Side), 1, d.AsSpan(r * Side), 1);
                        }
                        for (int i = 0; i < Points; i++)
                        {
                            v[i * channels + c] = d[i];
                        }
                    }
                    for (int f = 0; f < filters; f++)
                    {
                        for (int i = 0; i < Tile * Tile; i++)
                        {
                            int y = ty + i / Tile, x = tx + i % Tile;
                            dy[i] = y < outputHeight && x < outputWidth ? dPre[n * outputLength + (y * outputWidth + x) * filters + f] : 0f;
                        }
                        for (int j = 0; j < Tile; j++)
                        {
                            GradientPoints(dy.AsSpan(j), Tile, gradientRows.AsSpan(j), Tile); // A·dY, column by column: rows[6][4]
                        }
                        for (int k = 0; k < Side; k++)
                        {
                            GradientPoints(gradientRows.AsSpan(k * Tile), 1, points.AsSpan(k * Side), 1); // then each row times Aᵀ
                        }
                        for (int i = 0; i < Points; i++)
                        {
                            dm[i * filters + f] = points[i];
                        }
                    }
                    for (int point = firstPoint; point < endPoint; point++)
                    {
                        for (int c = 0; c < channels; c++)
                        {
                            for (int f = 0; f < filters; f++)
                            {
                                int at = (c * Points + point) * filters + f;
                                dU[at] = MathF.FusedMultiplyAdd(v[point * channels + c], dm[point * filters + f], dU[at]);
                            }
                        }
                    }
                }
            }
        }
    }

    private static void CheckGradient(ReadOnlySpan<float> input, ReadOnlySpan<float> dPre, in ConvGeometry geometry, int filters, int examples, Span<float> dU)
    {
        CheckShapeAndInput(input, geometry, filters, examples);
        if (geometry.Channels < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(geometry), $"Winograd expects C >= 1; received C={geometry.Channels}.");
        }
        Check(dPre.Length, (long)examples * geometry.OutputPixels * filters, nameof(dPre), "N·OH·OW·F");
        Check(dU.Length, (long)Points * geometry.Channels * filters, nameof(dU), "36·C·F");
    }

    private static void CheckFinish(ReadOnlySpan<float> dU, int channels, int filters, Span<float> dKernel)
    {
        if (channels < 1 || filters < 1 || channels % Vector256<float>.Count != 0 || filters % Vector256<float>.Count != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(filters), $"Winograd expects C and F positive multiples of {Vector256<float>.Count}; received C={channels}, F={filters}.");
        }
        Check(dU.Length, (long)Points * channels * filters, nameof(dU), "36·C·F");
        Check(dKernel.Length, 9L * channels * filters, nameof(dKernel), "3·3·C·F");
    }

    /// <summary>
    /// Floats from a tile's first vector of filters to its second in a panel layout of <paramref name="rows"/> rows of 16:
    /// the panel's other half with 256-bit vectors, the next panel (16·rows floats on) with 512-bit ones.
    /// </summary>
    private static nint SecondVector<TV, T>(int rows)
        where TV : IFloatVector<T> where T : struct =>
        TV.Count < Panel ? TV.Count : (nint)rows * Panel;

    /// <summary>
    /// m rows t..t+5 x filters [<paramref name="first"/>, <paramref name="end"/>) = v rows t..t+5 [C] · U[point] (panels of
    /// 16 filters, [F / 16][C][16]), two vectors of filters at a time (a panel of 16 with 256-bit vectors, two panels with
    /// 512-bit ones): a tile of 12 accumulators, the 6 rows of v staying in L1 across the panels; rows past
    /// <paramref name="rows"/> repeat the last (computed, not stored). Each value one fused multiply-add chain over the
    /// channels in order, from zero, whatever the width.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ProductRows<TV, T>(float* v, int rows, float* u, int channels, int filters, float* m, int first, int end)
        where TV : IFloatVector<T> where T : struct
    {
        int lanes = TV.Count;
        nint c1 = Math.Min(1, rows - 1) * channels, c2 = Math.Min(2, rows - 1) * channels, c3 = Math.Min(3, rows - 1) * channels;
        nint c4 = Math.Min(4, rows - 1) * channels, c5 = Math.Min(5, rows - 1) * channels;
        nint second = SecondVector<TV, T>(channels);
        int group = first;
        if (lanes == Panel)
        {
            // 512-bit vectors: four panels (64 filters) a tile while they last, 24 accumulators, so that 6 broadcasts and 4
            // loads feed 24 fused multiply-adds (12 with two panels). The same chains.
            for (; group + 4 * lanes <= end; group += 4 * lanes)
            {
                ProductRowsWide<TV, T>(v, rows, u + (nint)group * channels, channels, filters, m + group, c1, c2, c3, c4, c5, second);
            }
        }
        for (; group < end; group += 2 * lanes)
        {
            T a00 = TV.Zero, a01 = TV.Zero, a10 = TV.Zero, a11 = TV.Zero, a20 = TV.Zero, a21 = TV.Zero;
            T a30 = TV.Zero, a31 = TV.Zero, a40 = TV.Zero, a41 = TV.Zero, a50 = TV.Zero, a51 = TV.Zero;
            float* x = v, k = u + (nint)group * channels; // panel group / 16 starts 16·C·(group / 16) floats in
            for (int c = 0; c < channels; c++, k += Panel, x++)
            {
                T k0 = TV.Load(k), k1 = TV.Load(k + second);
                T b = TV.Create(x[0]);
                a00 = TV.FusedMultiplyAdd(b, k0, a00); a01 = TV.FusedMultiplyAdd(b, k1, a01);
                b = TV.Create(x[c1]);
                a10 = TV.FusedMultiplyAdd(b, k0, a10); a11 = TV.FusedMultiplyAdd(b, k1, a11);
                b = TV.Create(x[c2]);
                a20 = TV.FusedMultiplyAdd(b, k0, a20); a21 = TV.FusedMultiplyAdd(b, k1, a21);
                b = TV.Create(x[c3]);
                a30 = TV.FusedMultiplyAdd(b, k0, a30); a31 = TV.FusedMultiplyAdd(b, k1, a31);
                b = TV.Create(x[c4]);
                a40 = TV.FusedMultiplyAdd(b, k0, a40); a41 = TV.FusedMultiplyAdd(b, k1, a41);
                b = TV.Create(x[c5]);
                a50 = TV.FusedMultiplyAdd(b, k0, a50); a51 = TV.FusedMultiplyAdd(b, k1, a51);
            }
            float* row = m + group;
            TV.Store(row, a00); TV.Store(row + lanes, a01);
            if (rows > 1) { TV.Store(row + filters, a10); TV.Store(row + filters + lanes, a11); }
            if (rows > 2) { TV.Store(row + 2 * filters, a20); TV.Store(row + 2 * filters + lanes, a21); }
            if (rows > 3) { TV.Store(row + 3 * filters, a30); TV.Store(row + 3 * filters + lanes, a31); }
            if (rows > 4) { TV.Store(row + 4 * filters, a40); TV.Store(row + 4 * filters + lanes, a41); }
            if (rows > 5) { TV.Store(row + 5 * filters, a50); TV.Store(row + 5 * filters + lanes, a51); }
        }
    }

    /// <summary>
    /// <see cref="ProductRows{TV, T}"/>'s tile for four vectors of filters (64 with 512-bit vectors) from <paramref name="k"/>
    /// (the first panel; the others <paramref name="second"/> floats apart) into m's rows from <paramref name="row"/>:
    /// 24 accumulators, each value the same chain.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ProductRowsWide<TV, T>(float* x, int rows, float* k, int channels, int filters, float* row,
        nint c1, nint c2, nint c3, nint c4, nint c5, nint second)
        where TV : IFloatVector<T> where T : struct
    {
        int lanes = TV.Count;
        T a00 = TV.Zero, a01 = TV.Zero, a02 = TV.Zero, a03 = TV.Zero, a10 = TV.Zero, a11 = TV.Zero, a12 = TV.Zero, a13 = TV.Zero;
        T a20 = TV.Zero, a21 = TV.Zero, a22 = TV.Zero, a23 = TV.Zero, a30 = TV.Zero, a31 = TV.Zero, a32 = TV.Zero, a33 = TV.Zero;
        T a40 = TV.Zero, a41 = TV.Zero, a42 = TV.Zero, a43 = TV.Zero, a50 = TV.Zero, a51 = TV.Zero, a52 = TV.Zero, a53 = TV.Zero;
        for (int c = 0; c < channels; c++, k += Panel, x++)
        {
            T k0 = TV.Load(k), k1 = TV.Load(k + second), k2 = TV.Load(k + 2 * second), k3 = TV.Load(k + 3 * second);
            T b = TV.Create(x[0]);
            a00 = TV.FusedMultiplyAdd(b, k0, a00); a01 = TV.FusedMultiplyAdd(b, k1, a01); a02 = TV.FusedMultiplyAdd(b, k2, a02); a03 = TV.FusedMultiplyAdd(b, k3, a03);
            b = TV.Create(x[c1]);
            a10 = TV.FusedMultiplyAdd(b, k0, a10); a11 = TV.FusedMultiplyAdd(b, k1, a11); a12 = TV.FusedMultiplyAdd(b, k2, a12); a13 = TV.FusedMultiplyAdd(b, k3, a13);
            b = TV.Create(x[c2]);
            a20 = TV.FusedMultiplyAdd(b, k0, a20); a21 = TV.FusedMultiplyAdd(b, k1, a21); a22 = TV.FusedMultiplyAdd(b, k2, a22); a23 = TV.FusedMultiplyAdd(b, k3, a23);
            b = TV.Create(x[c3]);
            a30 = TV.FusedMultiplyAdd(b, k0, a30); a31 = TV.FusedMultiplyAdd(b, k1, a31); a32 = TV.FusedMultiplyAdd(b, k2, a32); a33 = TV.FusedMultiplyAdd(b, k3, a33);
            b = TV.Create(x[c4]);
            a40 = TV.FusedMultiplyAdd(b, k0, a40); a41 = TV.FusedMultiplyAdd(b, k1, a41); a42 = TV.FusedMultiplyAdd(b, k2, a42); a43 = TV.FusedMultiplyAdd(b, k3, a43);
            b = TV.Create(x[c5]);
            a50 = TV.FusedMultiplyAdd(b, k0, a50); a51 = TV.FusedMultiplyAdd(b, k1, a51); a52 = TV.FusedMultiplyAdd(b, k2, a52); a53 = TV.FusedMultiplyAdd(b, k3, a53);
        }
        StoreFour<TV, T>(row, lanes, a00, a01, a02, a03);
        if (rows > 1) { StoreFour<TV, T>(row + filters, lanes, a10, a11, a12, a13); }
        if (rows > 2) { StoreFour<TV, T>(row + 2 * filters, lanes, a20, a21, a22, a23); }
        if (rows > 3) { StoreFour<TV, T>(row + 3 * filters, lanes, a30, a31, a32, a33); }
        if (rows > 4) { StoreFour<TV, T>(row + 4 * filters, lanes, a40, a41, a42, a43); }
        if (rows > 5) { StoreFour<TV, T>(row + 5 * filters, lanes, a50, a51, a52, a53); }
    }

    /// <summary>Four vectors to <paramref name="p"/>, <paramref name="p"/> + <paramref name="stride"/>, ..., + 3·<paramref name="stride"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreFour<TV, T>(float* p, nint stride, T y0, T y1, T y2, T y3)
        where TV : IFloatVector<T> where T : struct
    {
        TV.Store(p, y0); TV.Store(p + stride, y1); TV.Store(p + 2 * stride, y2); TV.Store(p + 3 * stride, y3);
    }

    /// <summary>
    /// dU[C][point][first..end) += Σ over <paramref name="count"/> tiles of V[point][t, c] · dM[point][t, f] for one point:
    /// v its rows [count][C], dm its panels [F / 16][count][16], dU0 its row of dU for channel 0 (the channels 36·F
    /// apart); two vectors of filters at a time, the channels in rows of 6 up to <paramref name="sixRows"/>, then of 4.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ProductPoint<TV, T>(float* v, int channels, int sixRows, int count, float* dm, float* dU0, int filters, int first, int end, bool fromZero)
        where TV : IFloatVector<T> where T : struct
    {
        nint dUStride = (nint)Points * filters;
        int group = first;
        if (TV.Count == Panel)
        {
            // 512-bit vectors: four panels (64 filters) a tile while they last, 24 accumulators, as in ProductRows.
            for (; group + 4 * TV.Count <= end; group += 4 * TV.Count)
            {
                float* dmPanel = dm + (nint)group * count, dUPanel = dU0 + group;
                int c = 0;
                for (; c < sixRows; c += RowTile)
                {
                    ProductTileWide<TV, T>(v + c, channels, count, dmPanel, dUPanel + c * dUStride, dUStride, fromZero);
                }
                for (; c < channels; c += 4)
                {
                    ProductTile4<TV, T>(v + c, channels, count, dmPanel, dUPanel + c * dUStride, dUStride, fromZero);
                    ProductTile4<TV, T>(v + c, channels, count, dmPanel + 2 * SecondVector<TV, T>(count), dUPanel + 2 * TV.Count + c * dUStride,
                        dUStride, fromZero);
                }
            }
        }
        for (; group < end; group += 2 * TV.Count)
        {
            float* dmPanel = dm + (nint)group * count, dUPanel = dU0 + group;
            int c = 0;
            for (; c < sixRows; c += RowTile)
            {
                ProductTile<TV, T>(v + c, channels, count, RowTile, dmPanel, dUPanel + c * dUStride, dUStride, fromZero);
            }
            for (; c < channels; c += 4)
            {
                ProductTile4<TV, T>(v + c, channels, count, dmPanel, dUPanel + c * dUStride, dUStride, fromZero);
            }
        }
    }

    /// <summary>
    /// dU rows c..c+5 x two vectors of filters (16 filters with 256-bit vectors, 32 with 512-bit ones; the second vector
    /// of dU <c>TV.Count</c> floats after the first) += Σ over <paramref name="count"/> tiles of v[t, c + i] · dm[t, ..]:
    /// v's rows <paramref name="stride"/> floats apart, dm's rows 16 floats apart, its second vector after the first as
    /// <see cref="SecondVector{TV, T}"/> says (the panel's other half, or the next panel); a partial tile
    /// computes rows past <paramref name="rowCount"/> from its last row and stores only its own. Each value one chain,
    /// tile after tile, from +0 (<paramref name="fromZero"/>) or from dU.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ProductTile<TV, T>(float* v, nint stride, int count, int rowCount, float* dm, float* dU, nint dUStride, bool fromZero)
        where TV : IFloatVector<T> where T : struct
    {
        int lanes = TV.Count;
        nint dmSecond = SecondVector<TV, T>(count);
        nint o1 = Math.Min(1, rowCount - 1), o2 = Math.Min(2, rowCount - 1), o3 = Math.Min(3, rowCount - 1), o4 = Math.Min(4, rowCount - 1), o5 = Math.Min(5, rowCount - 1);
        float* k0p = dU, k1p = dU + o1 * dUStride, k2p = dU + o2 * dUStride, k3p = dU + o3 * dUStride, k4p = dU + o4 * dUStride, k5p = dU + o5 * dUStride;
        T a00, a01, a10, a11, a20, a21, a30, a31, a40, a41, a50, a51;
        if (fromZero)
        {
            // The first addends of dU: the chains start from +0, as from a cleared dU.
            a00 = a01 = a10 = a11 = a20 = a21 = a30 = a31 = a40 = a41 = a50 = a51 = TV.Zero;
        }
        else
        {
            a00 = TV.Load(k0p); a01 = TV.Load(k0p + lanes); a10 = TV.Load(k1p); a11 = TV.Load(k1p + lanes);
            a20 = TV.Load(k2p); a21 = TV.Load(k2p + lanes); a30 = TV.Load(k3p); a31 = TV.Load(k3p + lanes);
            a40 = TV.Load(k4p); a41 = TV.Load(k4p + lanes); a50 = TV.Load(k5p); a51 = TV.Load(k5p + lanes);
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
            T d0 = TV.Load(d), d1 = TV.Load(d + dmSecond);
            T x = TV.Create(w[0]);
            a00 = TV.FusedMultiplyAdd(x, d0, a00); a01 = TV.FusedMultiplyAdd(x, d1, a01);
            x = TV.Create(w[o1]);
            a10 = TV.FusedMultiplyAdd(x, d0, a10); a11 = TV.FusedMultiplyAdd(x, d1, a11);
            x = TV.Create(w[o2]);
            a20 = TV.FusedMultiplyAdd(x, d0, a20); a21 = TV.FusedMultiplyAdd(x, d1, a21);
            x = TV.Create(w[o3]);
            a30 = TV.FusedMultiplyAdd(x, d0, a30); a31 = TV.FusedMultiplyAdd(x, d1, a31);
            x = TV.Create(w[o4]);
            a40 = TV.FusedMultiplyAdd(x, d0, a40); a41 = TV.FusedMultiplyAdd(x, d1, a41);
            x = TV.Create(w[o5]);
            a50 = TV.FusedMultiplyAdd(x, d0, a50); a51 = TV.FusedMultiplyAdd(x, d1, a51);
        }
        TV.Store(k0p, a00); TV.Store(k0p + lanes, a01);
        if (rowCount > 1) { TV.Store(k1p, a10); TV.Store(k1p + lanes, a11); }
        if (rowCount > 2) { TV.Store(k2p, a20); TV.Store(k2p + lanes, a21); }
        if (rowCount > 3) { TV.Store(k3p, a30); TV.Store(k3p + lanes, a31); }
        if (rowCount > 4) { TV.Store(k4p, a40); TV.Store(k4p + lanes, a41); }
        if (rowCount > 5) { TV.Store(k5p, a50); TV.Store(k5p + lanes, a51); }
    }

    /// <summary>
    /// <see cref="ProductTile{TV, T}"/> for 6 rows of dU (c..c+5) x four vectors of filters (64 with 512-bit vectors; dm's
    /// panels <see cref="SecondVector{TV, T}"/> apart, dU's vectors one after another): 24 accumulators, so that 6 broadcasts
    /// and 4 loads feed 24 fused multiply-adds. Each value the same chain.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ProductTileWide<TV, T>(float* v, nint stride, int count, float* dm, float* dU, nint dUStride, bool fromZero)
        where TV : IFloatVector<T> where T : struct
    {
        int lanes = TV.Count;
        nint dmSecond = SecondVector<TV, T>(count);
        float* k0p = dU, k1p = dU + dUStride, k2p = dU + 2 * dUStride, k3p = dU + 3 * dUStride, k4p = dU + 4 * dUStride, k5p = dU + 5 * dUStride;
        T a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33, a40, a41, a42, a43, a50, a51, a52, a53;
        if (fromZero)
        {
            a00 = a01 = a02 = a03 = a10 = a11 = a12 = a13 = a20 = a21 = a22 = a23 = TV.Zero;
            a30 = a31 = a32 = a33 = a40 = a41 = a42 = a43 = a50 = a51 = a52 = a53 = TV.Zero;
        }
        else
        {
            LoadFour<TV, T>(k0p, lanes, out a00, out a01, out a02, out a03);
            LoadFour<TV, T>(k1p, lanes, out a10, out a11, out a12, out a13);
            LoadFour<TV, T>(k2p, lanes, out a20, out a21, out a22, out a23);
            LoadFour<TV, T>(k3p, lanes, out a30, out a31, out a32, out a33);
            LoadFour<TV, T>(k4p, lanes, out a40, out a41, out a42, out a43);
            LoadFour<TV, T>(k5p, lanes, out a50, out a51, out a52, out a53);
        }
        float* next = dU + 6 * dUStride; // the next rows of dU, as in ProductTile: four lines each
        for (int i = 0; i < 6; i++, next += dUStride)
        {
            Sse.Prefetch0(next); Sse.Prefetch0(next + lanes); Sse.Prefetch0(next + 2 * lanes); Sse.Prefetch0(next + 3 * lanes);
        }
        float* w = v, d = dm;
        for (int t = 0; t < count; t++, w += stride, d += Panel)
        {
            T d0 = TV.Load(d), d1 = TV.Load(d + dmSecond), d2 = TV.Load(d + 2 * dmSecond), d3 = TV.Load(d + 3 * dmSecond);
            T x = TV.Create(w[0]);
            a00 = TV.FusedMultiplyAdd(x, d0, a00); a01 = TV.FusedMultiplyAdd(x, d1, a01); a02 = TV.FusedMultiplyAdd(x, d2, a02); a03 = TV.FusedMultiplyAdd(x, d3, a03);
            x = TV.Create(w[1]);
            a10 = TV.FusedMultiplyAdd(x, d0, a10); a11 = TV.FusedMultiplyAdd(x, d1, a11); a12 = TV.FusedMultiplyAdd(x, d2, a12); a13 = TV.FusedMultiplyAdd(x, d3, a13);
            x = TV.Create(w[2]);
            a20 = TV.FusedMultiplyAdd(x, d0, a20); a21 = TV.FusedMultiplyAdd(x, d1, a21); a22 = TV.FusedMultiplyAdd(x, d2, a22); a23 = TV.FusedMultiplyAdd(x, d3, a23);
            x = TV.Create(w[3]);
            a30 = TV.FusedMultiplyAdd(x, d0, a30); a31 = TV.FusedMultiplyAdd(x, d1, a31); a32 = TV.FusedMultiplyAdd(x, d2, a32); a33 = TV.FusedMultiplyAdd(x, d3, a33);
            x = TV.Create(w[4]);
            a40 = TV.FusedMultiplyAdd(x, d0, a40); a41 = TV.FusedMultiplyAdd(x, d1, a41); a42 = TV.FusedMultiplyAdd(x, d2, a42); a43 = TV.FusedMultiplyAdd(x, d3, a43);
            x = TV.Create(w[5]);
            a50 = TV.FusedMultiplyAdd(x, d0, a50); a51 = TV.FusedMultiplyAdd(x, d1, a51); a52 = TV.FusedMultiplyAdd(x, d2, a52); a53 = TV.FusedMultiplyAdd(x, d3, a53);
        }
        StoreFour<TV, T>(k0p, lanes, a00, a01, a02, a03);
        StoreFour<TV, T>(k1p, lanes, a10, a11, a12, a13);
        StoreFour<TV, T>(k2p, lanes, a20, a21, a22, a23);
        StoreFour<TV, T>(k3p, lanes, a30, a31, a32, a33);
        StoreFour<TV, T>(k4p, lanes, a40, a41, a42, a43);
        StoreFour<TV, T>(k5p, lanes, a50, a51, a52, a53);
    }

    /// <summary>Four vectors from <paramref name="p"/>, <paramref name="p"/> + <paramref name="stride"/>, ..., + 3·<paramref name="stride"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LoadFour<TV, T>(float* p, nint stride, out T y0, out T y1, out T y2, out T y3)
        where TV : IFloatVector<T> where T : struct
    {
        y0 = TV.Load(p); y1 = TV.Load(p + stride); y2 = TV.Load(p + 2 * stride); y3 = TV.Load(p + 3 * stride);
    }

    /// <summary>
    /// <see cref="ProductTile{TV, T}"/> for 4 rows of dU (c..c+3): 8 accumulators, for the channels a row of 6 would
    /// overrun. Each value the same chain as there.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ProductTile4<TV, T>(float* v, nint stride, int count, float* dm, float* dU, nint dUStride, bool fromZero)
        where TV : IFloatVector<T> where T : struct
    {
        int lanes = TV.Count;
        nint dmSecond = SecondVector<TV, T>(count);
        float* k0p = dU, k1p = dU + dUStride, k2p = dU + 2 * dUStride, k3p = dU + 3 * dUStride;
        T a00, a01, a10, a11, a20, a21, a30, a31;
        if (fromZero)
        {
            a00 = a01 = a10 = a11 = a20 = a21 = a30 = a31 = TV.Zero;
        }
        else
        {
            a00 = TV.Load(k0p); a01 = TV.Load(k0p + lanes); a10 = TV.Load(k1p); a11 = TV.Load(k1p + lanes);
            a20 = TV.Load(k2p); a21 = TV.Load(k2p + lanes); a30 = TV.Load(k3p); a31 = TV.Load(k3p + lanes);
        }
        float* next = dU + 4 * dUStride; // the next rows of dU, as in ProductTile
        Sse.Prefetch0(next); Sse.Prefetch0(next + dUStride); Sse.Prefetch0(next + 2 * dUStride); Sse.Prefetch0(next + 3 * dUStride);
        float* w = v, d = dm;
        for (int t = 0; t < count; t++, w += stride, d += Panel)
        {
            T d0 = TV.Load(d), d1 = TV.Load(d + dmSecond);
            T x = TV.Create(w[0]);
            a00 = TV.FusedMultiplyAdd(x, d0, a00); a01 = TV.FusedMultiplyAdd(x, d1, a01);
            x = TV.Create(w[1]);
            a10 = TV.FusedMultiplyAdd(x, d0, a10); a11 = TV.FusedMultiplyAdd(x, d1, a11);
            x = TV.Create(w[2]);
            a20 = TV.FusedMultiplyAdd(x, d0, a20); a21 = TV.FusedMultiplyAdd(x, d1, a21);
            x = TV.Create(w[3]);
            a30 = TV.FusedMultiplyAdd(x, d0, a30); a31 = TV.FusedMultiplyAdd(x, d1, a31);
        }
        TV.Store(k0p, a00); TV.Store(k0p + lanes, a01); TV.Store(k1p, a10); TV.Store(k1p + lanes, a11);
        TV.Store(k2p, a20); TV.Store(k2p + lanes, a21); TV.Store(k3p, a30); TV.Store(k3p + lanes, a31);
    }

    /// <summary>
    /// Where tile t reads and writes: its 36 input cells (a zero row in the padding, and past the padded image for a
    /// cut last tile) and its 16 output cells (a discard row past the output, or a zero row when the "output" is the
    /// dPre the kernel gradient reads).
    /// </summary>
    private readonly struct TileWalk
    {
        private readonly float* _input, _output, _zeros, _discard;
        private readonly int _channels, _filters, _height, _width, _padTop, _padLeft, _outputHeight, _outputWidth, _tilesWide, _tilesPerExample;
        private readonly nint _inputLength, _outputLength;

        public TileWalk(in ConvGeometry geometry, float* input, float* output, int filters, float* zeros, float* discard)
        {
            _input = input;
            _output = output;
            _zeros = zeros;
            _discard = discard;
            _channels = geometry.Channels;
            _filters = filters;
            _height = geometry.InputHeight;
            _width = geometry.InputWidth;
            _padTop = geometry.PadTop;
            _padLeft = geometry.PadLeft;
            _outputHeight = geometry.OutputHeight;
            _outputWidth = geometry.OutputWidth;
            _tilesWide = (geometry.OutputWidth + Tile - 1) / Tile;
            _tilesPerExample = TilesPerExample(geometry);
            _inputLength = geometry.InputLength;
            _outputLength = (nint)geometry.OutputPixels * filters;
        }

        /// <summary>
        /// Fills <paramref name="cells"/>[36] with tile <paramref name="tile"/>'s input cells, row by row: the 6x6 block
        /// whose top-left corner is the tile's, in the input padded by PadTop rows and PadLeft columns (zeros).
        /// </summary>
        public void InputCells(int tile, float** cells)
        {
            var (n, y, x) = Locate(tile);
            float* example = _input + n * _inputLength;
            y -= _padTop;
            x -= _padLeft;
            for (int r = 0; r < Side; r++)
            {
                bool rowInside = (uint)(y + r) < (uint)_height;
                for (int c = 0; c < Side; c++)
                {
                    bool inside = rowInside && (uint)(x + c) < (uint)_width;
                    cells[r * Side + c] = inside ? example + ((nint)(y + r) * _width + x + c) * _channels : _zeros;
                }
            }
        }

        /// <summary>Fills <paramref name="cells"/>[16] with tile <paramref name="tile"/>'s output cells, row by row.</summary>
        public void OutputCells(int tile, float** cells)
        {
            var (n, y, x) = Locate(tile);
            float* example = _output + n * _outputLength;
            for (int r = 0; r < Tile; r++)
            {
                for (int c = 0; c < Tile; c++)
                {
                    bool inside = y + r < _outputHeight && x + c < _outputWidth;
                    cells[r * Tile + c] = inside ? example + ((nint)(y + r) * _outputWidth + x + c) * _filters : _discard;
                }
            }
        }

        /// <summary>The example and the top-left output pixel (y, x) of tile <paramref name="tile"/>.</summary>
        public (nint N, int Y, int X) Locate(int tile)
        {
            int n = tile / _tilesPerExample, index = tile - n * _tilesPerExample;
            int row = index / _tilesWide;
            return (n, Tile * row, Tile * (index - row * _tilesWide));
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
        Check(transformed.Length, (long)Points * channels * filters, nameof(transformed), "36·C·F");
    }

    private static void CheckForwardInputs(ReadOnlySpan<float> input, ReadOnlySpan<float> transformedKernel, ReadOnlySpan<float> bias,
        in ConvGeometry geometry, int filters, int examples)
    {
        CheckShapeAndInput(input, geometry, filters, examples);
        Check(transformedKernel.Length, (long)Points * geometry.Channels * filters, nameof(transformedKernel), "36·C·F");
        if (!bias.IsEmpty)
        {
            Check(bias.Length, filters, nameof(bias), "F");
        }
    }

    /// <summary>What the forward and the kernel gradient both check: a 3x3 stride-1 geometry, N and F, and the input's length.</summary>
    private static void CheckShapeAndInput(ReadOnlySpan<float> input, in ConvGeometry geometry, int filters, int examples)
    {
        if (geometry.KernelHeight != 3 || geometry.KernelWidth != 3 || geometry.StrideHeight != 1 || geometry.StrideWidth != 1)
        {
            throw new ArgumentException($"Winograd F(4x4, 3x3) expects a 3x3 kernel with strides of 1; received {geometry.KernelHeight}x{geometry.KernelWidth} with strides {geometry.StrideHeight}x{geometry.StrideWidth}.", nameof(geometry));
        }
        if (examples < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(examples), $"Winograd expects examples >= 0; received {examples}.");
        }
        if (filters < 1 || filters % Panel != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(filters), $"Winograd expects F a positive multiple of {Panel}; received F={filters}.");
        }
        Check(input.Length, (long)examples * geometry.InputLength, nameof(input), "N·H·W·C");
    }

    private static void Check(long actual, long expected, string name, string shape)
    {
        if (actual < expected)
        {
            throw new ArgumentException($"Winograd: {name} has {actual} values; expected at least {expected} ({shape}).", name);
        }
    }
}
