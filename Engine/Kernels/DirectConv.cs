using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Kernels;

// Shape legend: N batch, H/W input spatial, KH/KW kernel, OH/OW output spatial, F filters, taps =
// KH·KW. One input channel (C = 1), so a window is KH·KW single floats and the kernel is [taps, F].
// Padded images [N, PH, PW] hold exactly the cells the windows read, zeros in the padding:
// PH = (OH - 1)·SH + KH rows and PW = (OW - 1)·SW + KW columns, starting PadTop rows and PadLeft
// columns before the input (VALID, or SAME with a stride larger than the kernel, crops instead).
//
// Determinism: a forward output is one chain of fused multiply-adds over the taps in row-major
// order, started from the bias; a kernel-gradient element is one chain over the pixels of the call
// in ascending (n, oh, ow) order, started from its value in dKernel; a bias-gradient element adds
// the same pixels in the same order. The SIMD kernels keep these chains exactly (a chain leaves the
// registers only through an exact store and reload), so they equal their scalar references bit for bit.

/// <summary>
/// Direct convolution for one input channel (the first layer of an image model): no im2col buffer;
/// register tiles of several output pixels x 32 filters (AVX-512) or 16 filters (AVX2) with bias and ReLU
/// fused into the store, and a kernel gradient that masks dOutput by the ReLU and sums the bias gradient in
/// the same pass.
/// </summary>
public static class DirectConv
{
    /// <summary>Filters per AVX-512 register tile: two Vector512 (two AVX2 tiles of <see cref="Avx2FilterBlock"/>).</summary>
    public const int FilterBlock = 32;

    /// <summary>Output pixels per AVX-512 forward register tile (16 zmm accumulators).</summary>
    private const int PixelTile = 8;

    /// <summary>Taps per kernel-gradient register tile (18 zmm or 9 ymm accumulators); larger kernels take several passes.</summary>
    private const int TapBlock = 9;

    /// <summary>Filters per AVX2 forward register tile: two Vector256.</summary>
    private const int Avx2FilterBlock = 16;

    /// <summary>Output pixels per AVX2 forward register tile (12 ymm accumulators, of 16 registers).</summary>
    private const int Avx2PixelTile = 6;

    /// <summary>Output pixels per AVX2 kernel-gradient chunk: its window values are packed on the stack, its dOutput stays in L1.</summary>
    private const int Avx2PixelChunk = 64;

    /// <summary>
    /// True when the SIMD kernels run for this geometry: one input channel, F a multiple of
    /// <see cref="FilterBlock"/>, and AVX-512 or AVX2 with FMA (each has its own kernels, with tiles that fit
    /// its 32 zmm or 16 ymm registers).
    /// (The references accept any geometry with C = 1.)
    /// </summary>
    public static bool IsSupported(in ConvGeometry geometry, int filters) =>
        geometry.Channels == 1 && filters % FilterBlock == 0
        && ((Vector512.IsHardwareAccelerated && Avx512F.IsSupported) || (Vector256.IsHardwareAccelerated && Fma.IsSupported));

    /// <summary>PH = (OH - 1)·SH + KH: the rows of a padded image.</summary>
    public static int PaddedHeight(in ConvGeometry geometry) => (geometry.OutputHeight - 1) * geometry.StrideHeight + geometry.KernelHeight;

    /// <summary>PW = (OW - 1)·SW + KW: the columns of a padded image.</summary>
    public static int PaddedWidth(in ConvGeometry geometry) => (geometry.OutputWidth - 1) * geometry.StrideWidth + geometry.KernelWidth;

    /// <summary>PH · PW.</summary>
    public static int PaddedLength(in ConvGeometry geometry) => PaddedHeight(geometry) * PaddedWidth(geometry);

    /// <summary>padded[N, PH, PW] from input[N, H, W, 1] for <paramref name="count"/> examples: zeros outside the input.</summary>
    public static void Pad(ReadOnlySpan<float> input, in ConvGeometry geometry, int count, Span<float> padded)
    {
        Debug.Assert(geometry.Channels == 1);
        int paddedHeight = PaddedHeight(geometry), paddedWidth = PaddedWidth(geometry), paddedLength = paddedHeight * paddedWidth;
        Debug.Assert(input.Length >= count * geometry.InputLength && padded.Length >= count * paddedLength);
        // Columns [first, end) of a padded row come from input columns [first - PadLeft, end - PadLeft).
        int first = Math.Min(geometry.PadLeft, paddedWidth);
        int end = Math.Min(geometry.PadLeft + geometry.InputWidth, paddedWidth);
        for (int n = 0; n < count; n++)
        {
            ReadOnlySpan<float> image = input.Slice(n * geometry.InputLength, geometry.InputLength); // [H, W]
            Span<float> target = padded.Slice(n * paddedLength, paddedLength);                       // [PH, PW]
            for (int row = 0; row < paddedHeight; row++)
            {
                Span<float> paddedRow = target.Slice(row * paddedWidth, paddedWidth);
                int inputRow = row - geometry.PadTop;
                if ((uint)inputRow >= (uint)geometry.InputHeight || end <= first)
                {
                    paddedRow.Clear();
                    continue;
                }
                paddedRow.Slice(0, first).Clear();
                image.Slice(inputRow * geometry.InputWidth, end - first).CopyTo(paddedRow.Slice(first));
                paddedRow.Slice(end).Clear();
            }
        }
    }

    /// <summary>
    /// output[N, OH, OW, F] = act(bias[F] + Σ over taps of padded[pixel + tap] · kernel[tap, F]) for
    /// <paramref name="count"/> examples, with act ReLU when <paramref name="relu"/>; an empty
    /// <paramref name="bias"/> starts from zero.
    /// </summary>
    public static unsafe void Forward(ReadOnlySpan<float> padded, ReadOnlySpan<float> kernel, ReadOnlySpan<float> bias,
        in ConvGeometry geometry, int filters, int count, bool relu, Span<float> output)
    {
        CheckLengths(padded, kernel, bias, geometry, filters, count, output);
        if (!IsSupported(geometry, filters))
        {
            ForwardReference(padded, kernel, bias, geometry, filters, count, relu, output);
            return;
        }
        fixed (float* paddedPointer = padded, kernelPointer = kernel, biasPointer = bias, outputPointer = output)
        {
            if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
            {
                Forward512(paddedPointer, kernelPointer, bias.IsEmpty ? null : biasPointer, geometry, filters, count, relu, outputPointer);
            }
            else
            {
                Forward256(paddedPointer, kernelPointer, bias.IsEmpty ? null : biasPointer, geometry, filters, count, relu, outputPointer);
            }
        }
    }

    /// <summary>
    /// <see cref="Forward"/> through the AVX2 kernel whatever the machine, so that tests hold it equal to the
    /// reference where AVX-512 runs <see cref="Forward"/> too. Needs F a multiple of <see cref="FilterBlock"/>.
    /// </summary>
    internal static unsafe void Forward256(ReadOnlySpan<float> padded, ReadOnlySpan<float> kernel, ReadOnlySpan<float> bias,
        in ConvGeometry geometry, int filters, int count, bool relu, Span<float> output)
    {
        CheckLengths(padded, kernel, bias, geometry, filters, count, output);
        Debug.Assert(filters % FilterBlock == 0);
        fixed (float* paddedPointer = padded, kernelPointer = kernel, biasPointer = bias, outputPointer = output)
        {
            Forward256(paddedPointer, kernelPointer, bias.IsEmpty ? null : biasPointer, geometry, filters, count, relu, outputPointer);
        }
    }

    /// <summary>
    /// Whether <paramref name="pool"/> (the geometry of a max pool over this convolution's output) has 2x2 windows that
    /// tile the output from its top-left corner, so that <see cref="ForwardPooled"/> can pool each window as it is
    /// computed: a 2x2 pool with strides of 2, no padding before, covering the output (SAME, or VALID with even sizes).
    /// </summary>
    public static bool PoolsWindows(in ConvGeometry geometry, int filters, in ConvGeometry pool) =>
        MaxPool.PoolsBlocks2x2(geometry.OutputHeight, geometry.OutputWidth, filters, pool);

    /// <summary>
    /// True when <see cref="ForwardPooled"/> runs its AVX2 kernel for this geometry and pool (otherwise it runs the
    /// scalar references through a temporary output): <see cref="PoolsWindows"/>, <see cref="IsSupported"/>, AVX2 and FMA.
    /// </summary>
    public static bool PoolsWindowsInKernel(in ConvGeometry geometry, int filters, in ConvGeometry pool) =>
        PoolsWindows(geometry, filters, pool) && IsSupported(geometry, filters) && Vector256.IsHardwareAccelerated && Fma.IsSupported;

    /// <summary>
    /// <see cref="Forward"/> followed by <see cref="MaxPool.Forward"/> over its output, without the output: the
    /// 2x2 pixels of each window are computed together and pooled in registers (<see cref="PoolsWindows"/> must
    /// hold). pooled[N, POH, POW, F] and argmax (unless empty) receive the same values and winners, indices into
    /// the convolution's [OH, OW, F] output of each example, as that pair of calls.
    /// </summary>
    public static unsafe void ForwardPooled(ReadOnlySpan<float> padded, ReadOnlySpan<float> kernel, ReadOnlySpan<float> bias,
        in ConvGeometry geometry, int filters, int count, bool relu, in ConvGeometry pool, Span<float> pooled, Span<int> argmax)
    {
        CheckDimensions(geometry, filters, count);
        CheckLength(padded.Length, (long)count * PaddedLength(geometry), nameof(padded), "N·PH·PW");
        CheckLength(kernel.Length, (long)geometry.KernelHeight * geometry.KernelWidth * filters, nameof(kernel), "KH·KW·F");
        CheckLength(bias.IsEmpty ? filters : bias.Length, filters, nameof(bias), "F (or empty)");
        MaxPool.CheckPoolsBlocks2x2("DirectConv.ForwardPooled", geometry.OutputHeight, geometry.OutputWidth, filters, pool);
        long pooledLength = (long)count * pool.OutputPixels * filters;
        CheckLength(pooled.Length, pooledLength, nameof(pooled), "N·POH·POW·F");
        CheckLength(argmax.IsEmpty ? pooledLength : argmax.Length, pooledLength, nameof(argmax), "N·POH·POW·F (or empty)");
        if (!PoolsWindowsInKernel(geometry, filters, pool))
        {
            float[] output = new float[count * geometry.OutputPixels * filters];
            ForwardReference(padded, kernel, bias, geometry, filters, count, relu, output);
            MaxPool.ForwardReference(output, pool, count, pooled, argmax);
            return;
        }
        fixed (float* paddedPointer = padded, kernelPointer = kernel, biasPointer = bias, pooledPointer = pooled)
        fixed (int* argmaxPointer = argmax)
        {
            if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
            {
                ForwardPooled<Float512, Vector512<float>>(paddedPointer, kernelPointer, bias.IsEmpty ? null : biasPointer, geometry, filters, count, relu, pool,
                    pooledPointer, argmax.IsEmpty ? null : argmaxPointer);
            }
            else
            {
                ForwardPooled<Float256, Vector256<float>>(paddedPointer, kernelPointer, bias.IsEmpty ? null : biasPointer, geometry, filters, count, relu, pool,
                    pooledPointer, argmax.IsEmpty ? null : argmaxPointer);
            }
        }
    }

    /// <summary>
    /// The SIMD kernel of <see cref="ForwardPooled"/>: per window and two vectors of filters (16 on AVX2, 32 on AVX-512), its (up to) 4 pixels in 8 accumulators,
    /// each the chain of <see cref="Forward256(float*, float*, float*, in ConvGeometry, int, int, bool, float*)"/> (from the
    /// bias, over the taps in row-major order), then ReLU and <see cref="MaxPool"/>'s scan (the first strictly greater
    /// value in row-major order wins). A missing pixel (a cut window) is computed from the window's first and not used.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ForwardPooled<TV, T>(float* padded, float* kernel, float* bias, in ConvGeometry geometry,
        int filters, int count, bool relu, in ConvGeometry pool, float* pooled, int* winners)
        where TV : IFloatVector<T> where T : struct
    {
        int lanes = TV.Count;
        int paddedWidth = PaddedWidth(geometry), paddedLength = PaddedLength(geometry);
        int outputWidth = geometry.OutputWidth, outputHeight = geometry.OutputHeight;
        int kernelHeight = geometry.KernelHeight, kernelWidth = geometry.KernelWidth;
        int rowStep = geometry.StrideHeight * paddedWidth, columnStep = geometry.StrideWidth;
        nint pooledLength = (nint)pool.OutputPixels * filters;
        for (int n = 0; n < count; n++)
        {
            float* image = padded + (nint)n * paddedLength; // [PH, PW]
            for (int wy = 0; wy < pool.OutputHeight; wy++)
            {
                int oh = 2 * wy;
                bool below = oh + 1 < outputHeight;
                for (int wx = 0; wx < pool.OutputWidth; wx++)
                {
                    int ow = 2 * wx;
                    bool right = ow + 1 < outputWidth;
                    float* x0 = image + (nint)oh * rowStep + (nint)ow * columnStep;
                    float* x1 = right ? x0 + columnStep : x0;
                    float* x2 = below ? x0 + rowStep : x0;
                    float* x3 = right && below ? x0 + rowStep + columnStep : x0;
                    int cell0 = (oh * outputWidth + ow) * filters, cell1 = cell0 + filters;
                    int cell2 = cell0 + outputWidth * filters, cell3 = cell2 + filters;
                    nint window = (nint)n * pooledLength + ((nint)wy * pool.OutputWidth + wx) * filters;
                    for (int block = 0; block < filters; block += 2 * lanes)
                    {
                        T bias0 = bias is null ? TV.Zero : TV.Load(bias + block);
                        T bias1 = bias is null ? TV.Zero : TV.Load(bias + block + lanes);
                        T a00 = bias0, a01 = bias1, a10 = bias0, a11 = bias1, a20 = bias0, a21 = bias1, a30 = bias0, a31 = bias1;
                        float* w = kernel + block;
                        for (int i = 0; i < kernelHeight; i++)
                        {
                            for (int j = 0; j < kernelWidth; j++, w += filters)
                            {
                                nint tap = (nint)i * paddedWidth + j;
                                T w0 = TV.Load(w), w1 = TV.Load(w + lanes);
                                T x = TV.Create(x0[tap]);
                                a00 = TV.FusedMultiplyAdd(x, w0, a00);
                                a01 = TV.FusedMultiplyAdd(x, w1, a01);
                                x = TV.Create(x1[tap]);
                                a10 = TV.FusedMultiplyAdd(x, w0, a10);
                                a11 = TV.FusedMultiplyAdd(x, w1, a11);
                                x = TV.Create(x2[tap]);
                                a20 = TV.FusedMultiplyAdd(x, w0, a20);
                                a21 = TV.FusedMultiplyAdd(x, w1, a21);
                                x = TV.Create(x3[tap]);
                                a30 = TV.FusedMultiplyAdd(x, w0, a30);
                                a31 = TV.FusedMultiplyAdd(x, w1, a31);
                            }
                        }
                        if (relu)
                        {
                            a00 = TV.Relu(a00); a01 = TV.Relu(a01);
                            a10 = TV.Relu(a10); a11 = TV.Relu(a11);
                            a20 = TV.Relu(a20); a21 = TV.Relu(a21);
                            a30 = TV.Relu(a30); a31 = TV.Relu(a31);
                        }
                        int* target = winners is null ? null : winners + window + block;
                        MaxPool.PoolWindow<TV, T>(pooled + window + block, target, block, a00, a10, a20, a30, cell0, cell1, cell2, cell3, right, below);
                        MaxPool.PoolWindow<TV, T>(pooled + window + block + lanes, target is null ? null : target + lanes, block + lanes, a01, a11, a21, a31,
                            cell0, cell1, cell2, cell3, right, below);
                    }
                }
            }
        }
    }

    /// <summary>Scalar reference of <see cref="Forward"/>.</summary>
    public static void ForwardReference(ReadOnlySpan<float> padded, ReadOnlySpan<float> kernel, ReadOnlySpan<float> bias,
        in ConvGeometry geometry, int filters, int count, bool relu, Span<float> output)
    {
        CheckLengths(padded, kernel, bias, geometry, filters, count, output);
        int paddedWidth = PaddedWidth(geometry), paddedLength = PaddedLength(geometry);
        int pixel = 0;
        for (int n = 0; n < count; n++)
        {
            for (int oh = 0; oh < geometry.OutputHeight; oh++)
            {
                for (int ow = 0; ow < geometry.OutputWidth; ow++, pixel++)
                {
                    int window = n * paddedLength + oh * geometry.StrideHeight * paddedWidth + ow * geometry.StrideWidth;
                    for (int f = 0; f < filters; f++)
                    {
                        float sum = bias.IsEmpty ? 0f : bias[f];
                        for (int i = 0; i < geometry.KernelHeight; i++)
                        {
                            for (int j = 0; j < geometry.KernelWidth; j++)
                            {
                                sum = MathF.FusedMultiplyAdd(padded[window + i * paddedWidth + j], kernel[(i * geometry.KernelWidth + j) * filters + f], sum);
                            }
                        }
                        output[pixel * filters + f] = relu ? Math.Max(sum, 0f) : sum;
                    }
                }
            }
        }
    }

    /// <summary>
    /// dKernel[taps, F] += Σ over pixels of padded[pixel + tap] · dPre[pixel, F] and dBias[F] += Σ over
    /// pixels of dPre[pixel, F], for <paramref name="count"/> examples, where dPre = dOutput · (output &gt; 0)
    /// (the ReLU's gradient from its output) or, with an empty <paramref name="output"/>, dOutput itself.
    /// dPre is never stored. An empty <paramref name="dBias"/> skips the bias gradient.
    /// </summary>
    public static unsafe void WeightGradient(ReadOnlySpan<float> padded, ReadOnlySpan<float> output, ReadOnlySpan<float> dOutput,
        in ConvGeometry geometry, int filters, int count, Span<float> dKernel, Span<float> dBias)
    {
        CheckGradientLengths(padded, output, dOutput, geometry, filters, count, dKernel, dBias);
        if (!IsSupported(geometry, filters))
        {
            WeightGradientReference(padded, output, dOutput, geometry, filters, count, dKernel, dBias);
            return;
        }
        fixed (float* paddedPointer = padded, outputPointer = output, dOutputPointer = dOutput, dKernelPointer = dKernel, dBiasPointer = dBias)
        {
            if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
            {
                WeightGradient512(paddedPointer, output.IsEmpty ? null : outputPointer, dOutputPointer, geometry, filters, count,
                    dKernelPointer, dBias.IsEmpty ? null : dBiasPointer);
            }
            else
            {
                WeightGradient256(paddedPointer, output.IsEmpty ? null : outputPointer, dOutputPointer, geometry, filters, count,
                    dKernelPointer, dBias.IsEmpty ? null : dBiasPointer);
            }
        }
    }

    /// <summary>
    /// <see cref="WeightGradient"/> through the AVX2 kernel whatever the machine (see <see cref="Forward256(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, in ConvGeometry, int, int, bool, Span{float})"/>).
    /// </summary>
    internal static unsafe void WeightGradient256(ReadOnlySpan<float> padded, ReadOnlySpan<float> output, ReadOnlySpan<float> dOutput,
        in ConvGeometry geometry, int filters, int count, Span<float> dKernel, Span<float> dBias)
    {
        CheckGradientLengths(padded, output, dOutput, geometry, filters, count, dKernel, dBias);
        Debug.Assert(filters % FilterBlock == 0);
        fixed (float* paddedPointer = padded, outputPointer = output, dOutputPointer = dOutput, dKernelPointer = dKernel, dBiasPointer = dBias)
        {
            WeightGradient256(paddedPointer, output.IsEmpty ? null : outputPointer, dOutputPointer, geometry, filters, count,
                dKernelPointer, dBias.IsEmpty ? null : dBiasPointer);
        }
    }

    /// <summary>Scalar reference of <see cref="WeightGradient"/>.</summary>
    public static void WeightGradientReference(ReadOnlySpan<float> padded, ReadOnlySpan<float> output, ReadOnlySpan<float> dOutput,
        in ConvGeometry geometry, int filters, int count, Span<float> dKernel, Span<float> dBias)
    {
        CheckGradientLengths(padded, output, dOutput, geometry, filters, count, dKernel, dBias);
        int paddedWidth = PaddedWidth(geometry), paddedLength = PaddedLength(geometry);
        int taps = geometry.KernelHeight * geometry.KernelWidth;
        for (int f = 0; f < filters; f++)
        {
            for (int tap = 0; tap < taps; tap++)
            {
                int tapOffset = tap / geometry.KernelWidth * paddedWidth + tap % geometry.KernelWidth;
                float sum = dKernel[tap * filters + f];
                int pixel = 0;
                for (int n = 0; n < count; n++)
                {
                    for (int oh = 0; oh < geometry.OutputHeight; oh++)
                    {
                        for (int ow = 0; ow < geometry.OutputWidth; ow++, pixel++)
                        {
                            int window = n * paddedLength + oh * geometry.StrideHeight * paddedWidth + ow * geometry.StrideWidth;
                            sum = MathF.FusedMultiplyAdd(padded[window + tapOffset], MaskedGradient(output, dOutput, pixel * filters + f), sum);
                        }
                    }
                }
                dKernel[tap * filters + f] = sum;
            }
            if (!dBias.IsEmpty)
            {
                float sum = dBias[f];
                for (int pixel = 0; pixel < count * geometry.OutputPixels; pixel++)
                {
                    sum += MaskedGradient(output, dOutput, pixel * filters + f);
                }
                dBias[f] = sum;
            }
        }
    }

    /// <summary>dOutput[index] where the ReLU's output is positive (or everywhere without <paramref name="output"/>), else 0.</summary>
    private static float MaskedGradient(ReadOnlySpan<float> output, ReadOnlySpan<float> dOutput, int index) =>
        output.IsEmpty || output[index] > 0f ? dOutput[index] : 0f;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Forward512(float* padded, float* kernel, float* bias, in ConvGeometry geometry,
        int filters, int count, bool relu, float* output)
    {
        int paddedWidth = PaddedWidth(geometry), paddedLength = PaddedLength(geometry);
        int outputWidth = geometry.OutputWidth, pixels = geometry.OutputPixels;
        int kernelHeight = geometry.KernelHeight, kernelWidth = geometry.KernelWidth;
        int rowStep = geometry.StrideHeight * paddedWidth, columnStep = geometry.StrideWidth;
        for (int n = 0; n < count; n++)
        {
            float* image = padded + (nint)n * paddedLength;          // [PH, PW]
            float* outputImage = output + (nint)n * pixels * filters; // [OH·OW, F]
            for (int block = 0; block < filters; block += FilterBlock)
            {
                Vector512<float> bias0 = bias is null ? Vector512<float>.Zero : Vector512.Load(bias + block);
                Vector512<float> bias1 = bias is null ? Vector512<float>.Zero : Vector512.Load(bias + block + 16);
                float* blockKernel = kernel + block;
                int oh = 0, ow = 0, pixel = 0;
                // Tiles of PixelTile consecutive pixels in (oh, ow) order, which may span output rows.
                for (; pixel + PixelTile <= pixels; pixel += PixelTile)
                {
                    float* x0 = NextWindow(image, rowStep, columnStep, outputWidth, ref oh, ref ow);
                    float* x1 = NextWindow(image, rowStep, columnStep, outputWidth, ref oh, ref ow);
                    float* x2 = NextWindow(image, rowStep, columnStep, outputWidth, ref oh, ref ow);
                    float* x3 = NextWindow(image, rowStep, columnStep, outputWidth, ref oh, ref ow);
                    float* x4 = NextWindow(image, rowStep, columnStep, outputWidth, ref oh, ref ow);
                    float* x5 = NextWindow(image, rowStep, columnStep, outputWidth, ref oh, ref ow);
                    float* x6 = NextWindow(image, rowStep, columnStep, outputWidth, ref oh, ref ow);
                    float* x7 = NextWindow(image, rowStep, columnStep, outputWidth, ref oh, ref ow);
                    Vector512<float> a00 = bias0, a01 = bias1, a10 = bias0, a11 = bias1, a20 = bias0, a21 = bias1, a30 = bias0, a31 = bias1;
                    Vector512<float> a40 = bias0, a41 = bias1, a50 = bias0, a51 = bias1, a60 = bias0, a61 = bias1, a70 = bias0, a71 = bias1;
                    float* w = blockKernel;
                    for (int i = 0; i < kernelHeight; i++)
                    {
                        for (int j = 0; j < kernelWidth; j++, w += filters)
                        {
                            nint tap = (nint)i * paddedWidth + j;
                            Vector512<float> w0 = Vector512.Load(w), w1 = Vector512.Load(w + 16);
                            Vector512<float> x = Vector512.Create(x0[tap]);
                            a00 = Vector512.FusedMultiplyAdd(x, w0, a00);
                            a01 = Vector512.FusedMultiplyAdd(x, w1, a01);
                            x = Vector512.Create(x1[tap]);
                            a10 = Vector512.FusedMultiplyAdd(x, w0, a10);
                            a11 = Vector512.FusedMultiplyAdd(x, w1, a11);
                            x = Vector512.Create(x2[tap]);
                            a20 = Vector512.FusedMultiplyAdd(x, w0, a20);
                            a21 = Vector512.FusedMultiplyAdd(x, w1, a21);
                            x = Vector512.Create(x3[tap]);
                            a30 = Vector512.FusedMultiplyAdd(x, w0, a30);
                            a31 = Vector512.FusedMultiplyAdd(x, w1, a31);
                            x = Vector512.Create(x4[tap]);
                            a40 = Vector512.FusedMultiplyAdd(x, w0, a40);
                            a41 = Vector512.FusedMultiplyAdd(x, w1, a41);
                            x = Vector512.Create(x5[tap]);
                            a50 = Vector512.FusedMultiplyAdd(x, w0, a50);
                            a51 = Vector512.FusedMultiplyAdd(x, w1, a51);
                            x = Vector512.Create(x6[tap]);
                            a60 = Vector512.FusedMultiplyAdd(x, w0, a60);
                            a61 = Vector512.FusedMultiplyAdd(x, w1, a61);
                            x = Vector512.Create(x7[tap]);
                            a70 = Vector512.FusedMultiplyAdd(x, w0, a70);
                            a71 = Vector512.FusedMultiplyAdd(x, w1, a71);
                        }
                    }
                    float* y = outputImage + (nint)pixel * filters + block;
                    StorePixel(y, a00, a01, relu);
                    StorePixel(y + filters, a10, a11, relu);
                    StorePixel(y + 2 * filters, a20, a21, relu);
                    StorePixel(y + 3 * filters, a30, a31, relu);
                    StorePixel(y + 4 * filters, a40, a41, relu);
                    StorePixel(y + 5 * filters, a50, a51, relu);
                    StorePixel(y + 6 * filters, a60, a61, relu);
                    StorePixel(y + 7 * filters, a70, a71, relu);
                }
                for (; pixel < pixels; pixel++)
                {
                    float* x0 = NextWindow(image, rowStep, columnStep, outputWidth, ref oh, ref ow);
                    Vector512<float> a00 = bias0, a01 = bias1;
                    float* w = blockKernel;
                    for (int i = 0; i < kernelHeight; i++)
                    {
                        for (int j = 0; j < kernelWidth; j++, w += filters)
                        {
                            Vector512<float> x = Vector512.Create(x0[(nint)i * paddedWidth + j]);
                            a00 = Vector512.FusedMultiplyAdd(x, Vector512.Load(w), a00);
                            a01 = Vector512.FusedMultiplyAdd(x, Vector512.Load(w + 16), a01);
                        }
                    }
                    StorePixel(outputImage + (nint)pixel * filters + block, a00, a01, relu);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void WeightGradient512(float* padded, float* output, float* dOutput, in ConvGeometry geometry,
        int filters, int count, float* dKernel, float* dBias)
    {
        int paddedWidth = PaddedWidth(geometry), paddedLength = PaddedLength(geometry);
        int outputHeight = geometry.OutputHeight, outputWidth = geometry.OutputWidth, pixels = geometry.OutputPixels;
        int kernelWidth = geometry.KernelWidth, taps = geometry.KernelHeight * kernelWidth;
        int rowStep = geometry.StrideHeight * paddedWidth, columnStep = geometry.StrideWidth;
        // Every pass holds up to TapBlock taps x 32 filters of dKernel in registers and sweeps one
        // image; between images the partial sums go through dKernel, which keeps each chain intact.
        for (int n = 0; n < count; n++)
        {
            float* image = padded + (nint)n * paddedLength;                   // [PH, PW]
            nint imageStart = (nint)n * pixels * filters;                     // of [OH·OW, F]
            for (int firstTap = 0; firstTap < taps; firstTap += TapBlock)
            {
                int blockTaps = Math.Min(TapBlock, taps - firstTap);
                // The block's window offsets; the unused slots of a short block re-read its first tap.
                nint t0 = TapOffset(firstTap, firstTap, blockTaps, kernelWidth, paddedWidth);
                nint t1 = TapOffset(firstTap + 1, firstTap, blockTaps, kernelWidth, paddedWidth);
                nint t2 = TapOffset(firstTap + 2, firstTap, blockTaps, kernelWidth, paddedWidth);
                nint t3 = TapOffset(firstTap + 3, firstTap, blockTaps, kernelWidth, paddedWidth);
                nint t4 = TapOffset(firstTap + 4, firstTap, blockTaps, kernelWidth, paddedWidth);
                nint t5 = TapOffset(firstTap + 5, firstTap, blockTaps, kernelWidth, paddedWidth);
                nint t6 = TapOffset(firstTap + 6, firstTap, blockTaps, kernelWidth, paddedWidth);
                nint t7 = TapOffset(firstTap + 7, firstTap, blockTaps, kernelWidth, paddedWidth);
                nint t8 = TapOffset(firstTap + 8, firstTap, blockTaps, kernelWidth, paddedWidth);
                bool withBias = dBias is not null && firstTap == 0;
                for (int block = 0; block < filters; block += FilterBlock)
                {
                    float* g = dKernel + (nint)firstTap * filters + block; // [blockTaps, F] from column block
                    Vector512<float> g00 = LoadTap(g, 0, blockTaps, filters, 0), g01 = LoadTap(g, 0, blockTaps, filters, 16);
                    Vector512<float> g10 = LoadTap(g, 1, blockTaps, filters, 0), g11 = LoadTap(g, 1, blockTaps, filters, 16);
                    Vector512<float> g20 = LoadTap(g, 2, blockTaps, filters, 0), g21 = LoadTap(g, 2, blockTaps, filters, 16);
                    Vector512<float> g30 = LoadTap(g, 3, blockTaps, filters, 0), g31 = LoadTap(g, 3, blockTaps, filters, 16);
                    Vector512<float> g40 = LoadTap(g, 4, blockTaps, filters, 0), g41 = LoadTap(g, 4, blockTaps, filters, 16);
                    Vector512<float> g50 = LoadTap(g, 5, blockTaps, filters, 0), g51 = LoadTap(g, 5, blockTaps, filters, 16);
                    Vector512<float> g60 = LoadTap(g, 6, blockTaps, filters, 0), g61 = LoadTap(g, 6, blockTaps, filters, 16);
                    Vector512<float> g70 = LoadTap(g, 7, blockTaps, filters, 0), g71 = LoadTap(g, 7, blockTaps, filters, 16);
                    Vector512<float> g80 = LoadTap(g, 8, blockTaps, filters, 0), g81 = LoadTap(g, 8, blockTaps, filters, 16);
                    Vector512<float> b0 = withBias ? Vector512.Load(dBias + block) : Vector512<float>.Zero;
                    Vector512<float> b1 = withBias ? Vector512.Load(dBias + block + 16) : Vector512<float>.Zero;
                    float* d = dOutput + imageStart + block;
                    float* y = output is null ? null : output + imageStart + block;
                    for (int oh = 0; oh < outputHeight; oh++)
                    {
                        float* x = image + (nint)oh * rowStep;
                        for (int ow = 0; ow < outputWidth; ow++, x += columnStep, d += filters)
                        {
                            Vector512<float> d0 = Vector512.Load(d), d1 = Vector512.Load(d + 16);
                            if (y is not null)
                            {
                                d0 &= Vector512.GreaterThan(Vector512.Load(y), Vector512<float>.Zero);
                                d1 &= Vector512.GreaterThan(Vector512.Load(y + 16), Vector512<float>.Zero);
                                y += filters;
                            }
                            b0 += d0;
                            b1 += d1;
                            Vector512<float> v = Vector512.Create(x[t0]);
                            g00 = Vector512.FusedMultiplyAdd(v, d0, g00);
                            g01 = Vector512.FusedMultiplyAdd(v, d1, g01);
                            v = Vector512.Create(x[t1]);
                            g10 = Vector512.FusedMultiplyAdd(v, d0, g10);
                            g11 = Vector512.FusedMultiplyAdd(v, d1, g11);
                            v = Vector512.Create(x[t2]);
                            g20 = Vector512.FusedMultiplyAdd(v, d0, g20);
                            g21 = Vector512.FusedMultiplyAdd(v, d1, g21);
                            v = Vector512.Create(x[t3]);
                            g30 = Vector512.FusedMultiplyAdd(v, d0, g30);
                            g31 = Vector512.FusedMultiplyAdd(v, d1, g31);
                            v = Vector512.Create(x[t4]);
                            g40 = Vector512.FusedMultiplyAdd(v, d0, g40);
                            g41 = Vector512.FusedMultiplyAdd(v, d1, g41);
                            v = Vector512.Create(x[t5]);
                            g50 = Vector512.FusedMultiplyAdd(v, d0, g50);
                            g51 = Vector512.FusedMultiplyAdd(v, d1, g51);
                            v = Vector512.Create(x[t6]);
                            g60 = Vector512.FusedMultiplyAdd(v, d0, g60);
                            g61 = Vector512.FusedMultiplyAdd(v, d1, g61);
                            v = Vector512.Create(x[t7]);
                            g70 = Vector512.FusedMultiplyAdd(v, d0, g70);
                            g71 = Vector512.FusedMultiplyAdd(v, d1, g71);
                            v = Vector512.Create(x[t8]);
                            g80 = Vector512.FusedMultiplyAdd(v, d0, g80);
                            g81 = Vector512.FusedMultiplyAdd(v, d1, g81);
                        }
                    }
                    StoreTap(g, 0, blockTaps, filters, g00, g01);
                    StoreTap(g, 1, blockTaps, filters, g10, g11);
                    StoreTap(g, 2, blockTaps, filters, g20, g21);
                    StoreTap(g, 3, blockTaps, filters, g30, g31);
                    StoreTap(g, 4, blockTaps, filters, g40, g41);
                    StoreTap(g, 5, blockTaps, filters, g50, g51);
                    StoreTap(g, 6, blockTaps, filters, g60, g61);
                    StoreTap(g, 7, blockTaps, filters, g70, g71);
                    StoreTap(g, 8, blockTaps, filters, g80, g81);
                    if (withBias)
                    {
                        b0.Store(dBias + block);
                        b1.Store(dBias + block + 16);
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Forward256(float* padded, float* kernel, float* bias, in ConvGeometry geometry,
        int filters, int count, bool relu, float* output)
    {
        int paddedWidth = PaddedWidth(geometry), paddedLength = PaddedLength(geometry);
        int outputWidth = geometry.OutputWidth, pixels = geometry.OutputPixels;
        int kernelHeight = geometry.KernelHeight, kernelWidth = geometry.KernelWidth;
        int rowStep = geometry.StrideHeight * paddedWidth, columnStep = geometry.StrideWidth;
        for (int n = 0; n < count; n++)
        {
            float* image = padded + (nint)n * paddedLength;          // [PH, PW]
            float* outputImage = output + (nint)n * pixels * filters; // [OH·OW, F]
            int oh = 0, ow = 0, pixel = 0;
            // Tiles of Avx2PixelTile consecutive pixels in (oh, ow) order, which may span output rows; every
            // filter block of a tile before the next tile, so that its output rows are written whole.
            for (; pixel + Avx2PixelTile <= pixels; pixel += Avx2PixelTile)
            {
                float* x0 = NextWindow(image, rowStep, columnStep, outputWidth, ref oh, ref ow);
                float* x1 = NextWindow(image, rowStep, columnStep, outputWidth, ref oh, ref ow);
                float* x2 = NextWindow(image, rowStep, columnStep, outputWidth, ref oh, ref ow);
                float* x3 = NextWindow(image, rowStep, columnStep, outputWidth, ref oh, ref ow);
                float* x4 = NextWindow(image, rowStep, columnStep, outputWidth, ref oh, ref ow);
                float* x5 = NextWindow(image, rowStep, columnStep, outputWidth, ref oh, ref ow);
                for (int block = 0; block < filters; block += Avx2FilterBlock)
                {
                    Vector256<float> bias0 = bias is null ? Vector256<float>.Zero : Vector256.Load(bias + block);
                    Vector256<float> bias1 = bias is null ? Vector256<float>.Zero : Vector256.Load(bias + block + 8);
                    Vector256<float> a00 = bias0, a01 = bias1, a10 = bias0, a11 = bias1, a20 = bias0, a21 = bias1;
                    Vector256<float> a30 = bias0, a31 = bias1, a40 = bias0, a41 = bias1, a50 = bias0, a51 = bias1;
                    float* w = kernel + block;
                    for (int i = 0; i < kernelHeight; i++)
                    {
                        for (int j = 0; j < kernelWidth; j++, w += filters)
                        {
                            nint tap = (nint)i * paddedWidth + j;
                            Vector256<float> w0 = Vector256.Load(w), w1 = Vector256.Load(w + 8);
                            Vector256<float> x = Vector256.Create(x0[tap]);
                            a00 = Vector256.FusedMultiplyAdd(x, w0, a00);
                            a01 = Vector256.FusedMultiplyAdd(x, w1, a01);
                            x = Vector256.Create(x1[tap]);
                            a10 = Vector256.FusedMultiplyAdd(x, w0, a10);
                            a11 = Vector256.FusedMultiplyAdd(x, w1, a11);
                            x = Vector256.Create(x2[tap]);
                            a20 = Vector256.FusedMultiplyAdd(x, w0, a20);
                            a21 = Vector256.FusedMultiplyAdd(x, w1, a21);
                            x = Vector256.Create(x3[tap]);
                            a30 = Vector256.FusedMultiplyAdd(x, w0, a30);
                            a31 = Vector256.FusedMultiplyAdd(x, w1, a31);
                            x = Vector256.Create(x4[tap]);
                            a40 = Vector256.FusedMultiplyAdd(x, w0, a40);
                            a41 = Vector256.FusedMultiplyAdd(x, w1, a41);
                            x = Vector256.Create(x5[tap]);
                            a50 = Vector256.FusedMultiplyAdd(x, w0, a50);
                            a51 = Vector256.FusedMultiplyAdd(x, w1, a51);
                        }
                    }
                    float* y = outputImage + (nint)pixel * filters + block;
                    StorePixel(y, a00, a01, relu);
                    StorePixel(y + filters, a10, a11, relu);
                    StorePixel(y + 2 * filters, a20, a21, relu);
                    StorePixel(y + 3 * filters, a30, a31, relu);
                    StorePixel(y + 4 * filters, a40, a41, relu);
                    StorePixel(y + 5 * filters, a50, a51, relu);
                }
            }
            for (; pixel < pixels; pixel++)
            {
                float* x0 = NextWindow(image, rowStep, columnStep, outputWidth, ref oh, ref ow);
                for (int block = 0; block < filters; block += Avx2FilterBlock)
                {
                    Vector256<float> a00 = bias is null ? Vector256<float>.Zero : Vector256.Load(bias + block);
                    Vector256<float> a01 = bias is null ? Vector256<float>.Zero : Vector256.Load(bias + block + 8);
                    float* w = kernel + block;
                    for (int i = 0; i < kernelHeight; i++)
                    {
                        for (int j = 0; j < kernelWidth; j++, w += filters)
                        {
                            Vector256<float> x = Vector256.Create(x0[(nint)i * paddedWidth + j]);
                            a00 = Vector256.FusedMultiplyAdd(x, Vector256.Load(w), a00);
                            a01 = Vector256.FusedMultiplyAdd(x, Vector256.Load(w + 8), a01);
                        }
                    }
                    StorePixel(outputImage + (nint)pixel * filters + block, a00, a01, relu);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void WeightGradient256(float* padded, float* output, float* dOutput, in ConvGeometry geometry,
        int filters, int count, float* dKernel, float* dBias)
    {
        // A kernel 3 taps wide at column stride 1 (the model's first layer) runs row by row; other kernels pack their windows below.
        if (geometry.KernelWidth == 3 && geometry.StrideWidth == 1)
        {
            if (output is null)
            {
                WeightGradientRows256<PlainGradient>(padded, null, dOutput, geometry, filters, count, dKernel, dBias);
            }
            else
            {
                WeightGradientRows256<ReluGradient>(padded, output, dOutput, geometry, filters, count, dKernel, dBias);
            }
            return;
        }
        int paddedWidth = PaddedWidth(geometry), paddedLength = PaddedLength(geometry);
        int outputWidth = geometry.OutputWidth, pixels = geometry.OutputPixels;
        int kernelWidth = geometry.KernelWidth, taps = geometry.KernelHeight * kernelWidth;
        int rowStep = geometry.StrideHeight * paddedWidth, columnStep = geometry.StrideWidth;
        // Per tap block, a chunk of pixels gets its window values packed on the stack as [pixels, TapBlock],
        // so that the passes read them at constant offsets (nine tap offsets in general registers would
        // spill). Every pass holds up to TapBlock taps x 8 filters of dKernel in registers (9 ymm
        // accumulators) and sweeps the chunk's dOutput, which stays in L1 for the next 8 filters; between
        // chunks the partial sums go through dKernel and dBias, which keeps each chain intact.
        float* packedTaps = stackalloc float[Avx2PixelChunk * TapBlock]; // [chunk pixels, TapBlock]
        nint* offsets = stackalloc nint[TapBlock];                      // of the block's taps in a window
        for (int n = 0; n < count; n++)
        {
            float* image = padded + (nint)n * paddedLength;                   // [PH, PW]
            nint imageStart = (nint)n * pixels * filters;                     // of [OH·OW, F]
            int chunkOh = 0, chunkOw = 0;
            for (int firstPixel = 0; firstPixel < pixels; firstPixel += Avx2PixelChunk)
            {
                int chunkPixels = Math.Min(Avx2PixelChunk, pixels - firstPixel);
                float* tapsEnd = packedTaps + chunkPixels * TapBlock;
                nint chunkStart = imageStart + (nint)firstPixel * filters;
                for (int firstTap = 0; firstTap < taps; firstTap += TapBlock)
                {
                    int blockTaps = Math.Min(TapBlock, taps - firstTap);
                    // The unused slots of a short block re-read its first tap; their sums are never stored.
                    for (int slot = 0; slot < TapBlock; slot++)
                    {
                        offsets[slot] = TapOffset(firstTap + slot, firstTap, blockTaps, kernelWidth, paddedWidth);
                    }
                    int oh = chunkOh, ow = chunkOw;
                    for (float* values = packedTaps; values < tapsEnd; values += TapBlock)
                    {
                        float* window = NextWindow(image, rowStep, columnStep, outputWidth, ref oh, ref ow);
                        for (int slot = 0; slot < TapBlock; slot++)
                        {
                            values[slot] = window[offsets[slot]];
                        }
                    }
                    bool withBias = dBias is not null && firstTap == 0;
                    for (int block = 0; block < filters; block += 8)
                    {
                        float* g = dKernel + (nint)firstTap * filters + block; // [blockTaps, F] from column block
                        Vector256<float> g0 = LoadTap(g, 0, blockTaps, filters), g1 = LoadTap(g, 1, blockTaps, filters);
                        Vector256<float> g2 = LoadTap(g, 2, blockTaps, filters), g3 = LoadTap(g, 3, blockTaps, filters);
                        Vector256<float> g4 = LoadTap(g, 4, blockTaps, filters), g5 = LoadTap(g, 5, blockTaps, filters);
                        Vector256<float> g6 = LoadTap(g, 6, blockTaps, filters), g7 = LoadTap(g, 7, blockTaps, filters);
                        Vector256<float> g8 = LoadTap(g, 8, blockTaps, filters);
                        Vector256<float> b = withBias ? Vector256.Load(dBias + block) : Vector256<float>.Zero;
                        float* d = dOutput + chunkStart + block;
                        float* y = output is null ? null : output + chunkStart + block;
                        for (float* x = packedTaps; x < tapsEnd; x += TapBlock, d += filters)
                        {
                            Vector256<float> d0 = Vector256.Load(d);
                            if (y is not null)
                            {
                                d0 &= Vector256.GreaterThan(Vector256.Load(y), Vector256<float>.Zero);
                                y += filters;
                            }
                            b += d0;
                            g0 = Vector256.FusedMultiplyAdd(Vector256.Create(x[0]), d0, g0);
                            g1 = Vector256.FusedMultiplyAdd(Vector256.Create(x[1]), d0, g1);
                            g2 = Vector256.FusedMultiplyAdd(Vector256.Create(x[2]), d0, g2);
                            g3 = Vector256.FusedMultiplyAdd(Vector256.Create(x[3]), d0, g3);
                            g4 = Vector256.FusedMultiplyAdd(Vector256.Create(x[4]), d0, g4);
                            g5 = Vector256.FusedMultiplyAdd(Vector256.Create(x[5]), d0, g5);
                            g6 = Vector256.FusedMultiplyAdd(Vector256.Create(x[6]), d0, g6);
                            g7 = Vector256.FusedMultiplyAdd(Vector256.Create(x[7]), d0, g7);
                            g8 = Vector256.FusedMultiplyAdd(Vector256.Create(x[8]), d0, g8);
                        }
                        StoreTap(g, 0, blockTaps, filters, g0);
                        StoreTap(g, 1, blockTaps, filters, g1);
                        StoreTap(g, 2, blockTaps, filters, g2);
                        StoreTap(g, 3, blockTaps, filters, g3);
                        StoreTap(g, 4, blockTaps, filters, g4);
                        StoreTap(g, 5, blockTaps, filters, g5);
                        StoreTap(g, 6, blockTaps, filters, g6);
                        StoreTap(g, 7, blockTaps, filters, g7);
                        StoreTap(g, 8, blockTaps, filters, g8);
                        if (withBias)
                        {
                            b.Store(dBias + block);
                        }
                    }
                    if (firstTap + TapBlock >= taps)
                    {
                        chunkOh = oh;
                        chunkOw = ow;
                    }
                }
            }
        }
    }

    /// <summary>
    /// <see cref="WeightGradient256(float*, float*, float*, in ConvGeometry, int, int, float*, float*)"/> for a kernel 3 taps
    /// wide at column stride 1 (the model's first layer), output row by output row: a row of kernel taps x 32 filters (12 ymm
    /// accumulators) sweeps the row's pixels, broadcasting the three taps straight from the padded image (consecutive floats)
    /// and reading the row's dOutput, which stays in L1 for the kernel's other rows and the bias. Each value is the same chain
    /// as in the reference (over the pixels in row-major order), so the result is the same bit for bit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void WeightGradientRows256<TGradient>(float* padded, float* output, float* dOutput, in ConvGeometry geometry,
        int filters, int count, float* dKernel, float* dBias)
        where TGradient : struct, IGradientLoad
    {
        Debug.Assert(geometry.KernelWidth == 3 && geometry.StrideWidth == 1 && filters % FilterBlock == 0);
        int paddedWidth = PaddedWidth(geometry), paddedLength = PaddedLength(geometry);
        int outputWidth = geometry.OutputWidth, outputHeight = geometry.OutputHeight, pixels = geometry.OutputPixels;
        int kernelHeight = geometry.KernelHeight, rowStep = geometry.StrideHeight * paddedWidth;
        for (int n = 0; n < count; n++)
        {
            float* image = padded + (nint)n * paddedLength; // [PH, PW]
            for (int oh = 0; oh < outputHeight; oh++)
            {
                nint rowStart = ((nint)n * pixels + (nint)oh * outputWidth) * filters;
                for (int block = 0; block < filters; block += FilterBlock)
                {
                    float* dRow = dOutput + rowStart + block, yRow = output is null ? null : output + rowStart + block;
                    if (dBias is not null)
                    {
                        float* b = dBias + block;
                        Vector256<float> b0 = Vector256.Load(b), b1 = Vector256.Load(b + 8), b2 = Vector256.Load(b + 16), b3 = Vector256.Load(b + 24);
                        float* d = dRow, y = yRow;
                        for (int ow = 0; ow < outputWidth; ow++, d += filters, y += TGradient.Step(filters))
                        {
                            b0 += TGradient.Load(d, y, 0); b1 += TGradient.Load(d, y, 8); b2 += TGradient.Load(d, y, 16); b3 += TGradient.Load(d, y, 24);
                        }
                        b0.Store(b); b1.Store(b + 8); b2.Store(b + 16); b3.Store(b + 24);
                    }
                    for (int i = 0; i < kernelHeight; i++)
                    {
                        float* g0 = dKernel + (nint)(3 * i) * filters + block, g1 = g0 + filters, g2 = g1 + filters; // taps (i, 0..2)
                        Vector256<float> a00 = Vector256.Load(g0), a01 = Vector256.Load(g0 + 8), a02 = Vector256.Load(g0 + 16), a03 = Vector256.Load(g0 + 24);
                        Vector256<float> a10 = Vector256.Load(g1), a11 = Vector256.Load(g1 + 8), a12 = Vector256.Load(g1 + 16), a13 = Vector256.Load(g1 + 24);
                        Vector256<float> a20 = Vector256.Load(g2), a21 = Vector256.Load(g2 + 8), a22 = Vector256.Load(g2 + 16), a23 = Vector256.Load(g2 + 24);
                        float* x = image + (nint)oh * rowStep + (nint)i * paddedWidth; // tap (i, 0) of pixel (oh, 0)
                        float* d = dRow, y = yRow;
                        for (int ow = 0; ow < outputWidth; ow++, x++, d += filters, y += TGradient.Step(filters))
                        {
                            Vector256<float> x0 = Vector256.Create(x[0]), x1 = Vector256.Create(x[1]), x2 = Vector256.Create(x[2]);
                            Vector256<float> dv = TGradient.Load(d, y, 0);
                            a00 = Vector256.FusedMultiplyAdd(x0, dv, a00); a10 = Vector256.FusedMultiplyAdd(x1, dv, a10); a20 = Vector256.FusedMultiplyAdd(x2, dv, a20);
                            dv = TGradient.Load(d, y, 8);
                            a01 = Vector256.FusedMultiplyAdd(x0, dv, a01); a11 = Vector256.FusedMultiplyAdd(x1, dv, a11); a21 = Vector256.FusedMultiplyAdd(x2, dv, a21);
                            dv = TGradient.Load(d, y, 16);
                            a02 = Vector256.FusedMultiplyAdd(x0, dv, a02); a12 = Vector256.FusedMultiplyAdd(x1, dv, a12); a22 = Vector256.FusedMultiplyAdd(x2, dv, a22);
                            dv = TGradient.Load(d, y, 24);
                            a03 = Vector256.FusedMultiplyAdd(x0, dv, a03); a13 = Vector256.FusedMultiplyAdd(x1, dv, a13); a23 = Vector256.FusedMultiplyAdd(x2, dv, a23);
                        }
                        a00.Store(g0); a01.Store(g0 + 8); a02.Store(g0 + 16); a03.Store(g0 + 24);
                        a10.Store(g1); a11.Store(g1 + 8); a12.Store(g1 + 16); a13.Store(g1 + 24);
                        a20.Store(g2); a21.Store(g2 + 8); a22.Store(g2 + 16); a23.Store(g2 + 24);
                    }
                }
            }
        }
    }

    /// <summary>How a kernel-gradient kernel reads dPre: dOutput itself, or dOutput where the output is positive (a ReLU's).</summary>
    private unsafe interface IGradientLoad
    {
        /// <summary>dPre's 8 floats at <paramref name="offset"/> of dOutput <paramref name="d"/> and output <paramref name="y"/>.</summary>
        static abstract Vector256<float> Load(float* d, float* y, int offset);

        /// <summary>How far the output pointer moves per pixel (0 when it is not read).</summary>
        static abstract nint Step(int filters);
    }

    /// <summary>dPre = dOutput.</summary>
    private readonly unsafe struct PlainGradient : IGradientLoad
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load(float* d, float* y, int offset) => Vector256.Load(d + offset);

        public static nint Step(int filters) => 0;
    }

    /// <summary>dPre = dOutput · (output &gt; 0).</summary>
    private readonly unsafe struct ReluGradient : IGradientLoad
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load(float* d, float* y, int offset) =>
            Vector256.Load(d + offset) & Vector256.GreaterThan(Vector256.Load(y + offset), Vector256<float>.Zero);

        public static nint Step(int filters) => filters;
    }

    /// <summary>The window of pixel (oh, ow), then steps to the next pixel in row-major order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float* NextWindow(float* image, int rowStep, int columnStep, int outputWidth, ref int oh, ref int ow)
    {
        float* window = image + (nint)oh * rowStep + (nint)ow * columnStep;
        if (++ow == outputWidth)
        {
            ow = 0;
            oh++;
        }
        return window;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StorePixel(float* destination, Vector512<float> low, Vector512<float> high, bool relu)
    {
        if (relu)
        {
            low = Vector512.Max(low, Vector512<float>.Zero);
            high = Vector512.Max(high, Vector512<float>.Zero);
        }
        low.Store(destination);
        high.Store(destination + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StorePixel(float* destination, Vector256<float> low, Vector256<float> high, bool relu)
    {
        if (relu)
        {
            low = Float256.Relu(low);
            high = Float256.Relu(high);
        }
        low.Store(destination);
        high.Store(destination + 8);
    }

    /// <summary>The offset in a padded image of tap <paramref name="tap"/>, or of the block's first tap for an unused slot.</summary>
    private static nint TapOffset(int tap, int firstTap, int blockTaps, int kernelWidth, int paddedWidth)
    {
        int used = tap < firstTap + blockTaps ? tap : firstTap;
        return (nint)(used / kernelWidth) * paddedWidth + used % kernelWidth;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<float> LoadTap(float* block, int slot, int blockTaps, int filters, int offset) =>
        slot < blockTaps ? Vector512.Load(block + (nint)slot * filters + offset) : Vector512<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreTap(float* block, int slot, int blockTaps, int filters, Vector512<float> low, Vector512<float> high)
    {
        if (slot < blockTaps)
        {
            low.Store(block + (nint)slot * filters);
            high.Store(block + (nint)slot * filters + 16);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<float> LoadTap(float* block, int slot, int blockTaps, int filters) =>
        slot < blockTaps ? Vector256.Load(block + (nint)slot * filters) : Vector256<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreTap(float* block, int slot, int blockTaps, int filters, Vector256<float> sums)
    {
        if (slot < blockTaps)
        {
            sums.Store(block + (nint)slot * filters);
        }
    }

    // The SIMD kernels index through pointers: lengths are checked in every build, not only asserted.
    private static void CheckLengths(ReadOnlySpan<float> padded, ReadOnlySpan<float> kernel, ReadOnlySpan<float> bias,
        in ConvGeometry geometry, int filters, int count, Span<float> output)
    {
        CheckDimensions(geometry, filters, count);
        CheckLength(padded.Length, (long)count * PaddedLength(geometry), nameof(padded), "N·PH·PW");
        CheckLength(kernel.Length, (long)geometry.KernelHeight * geometry.KernelWidth * filters, nameof(kernel), "KH·KW·F");
        CheckLength(bias.IsEmpty ? filters : bias.Length, filters, nameof(bias), "F (or empty)");
        CheckLength(output.Length, (long)count * geometry.OutputPixels * filters, nameof(output), "N·OH·OW·F");
    }

    private static void CheckGradientLengths(ReadOnlySpan<float> padded, ReadOnlySpan<float> output, ReadOnlySpan<float> dOutput,
        in ConvGeometry geometry, int filters, int count, Span<float> dKernel, Span<float> dBias)
    {
        long outputLength = (long)count * geometry.OutputPixels * filters;
        CheckDimensions(geometry, filters, count);
        CheckLength(padded.Length, (long)count * PaddedLength(geometry), nameof(padded), "N·PH·PW");
        CheckLength(output.IsEmpty ? outputLength : output.Length, outputLength, nameof(output), "N·OH·OW·F (or empty)");
        CheckLength(dOutput.Length, outputLength, nameof(dOutput), "N·OH·OW·F");
        CheckLength(dKernel.Length, (long)geometry.KernelHeight * geometry.KernelWidth * filters, nameof(dKernel), "KH·KW·F");
        CheckLength(dBias.IsEmpty ? filters : dBias.Length, filters, nameof(dBias), "F (or empty)");
    }

    private static void CheckDimensions(in ConvGeometry geometry, int filters, int count)
    {
        if (geometry.Channels != 1 || filters < 1 || count < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(geometry),
                $"DirectConv expects C = 1, F >= 1 and N >= 0; received C={geometry.Channels}, F={filters}, N={count}.");
        }
    }

    private static void CheckLength(long length, long required, string name, string formula)
    {
        if (length < required)
        {
            throw new ArgumentException($"DirectConv expects {name} to hold at least {formula} = {required} floats; received {length}.", name);
        }
    }
}
