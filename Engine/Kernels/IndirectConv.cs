using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Kernels;

// Shape legend: N batch, H/W input spatial, C channels, KH/KW kernel, OH/OW output spatial, F filters,
// taps = KH·KW, K = taps·C. Padded images [N, PH, PW, C] hold exactly the cells the windows read, zeros
// in the padding: PH = (OH - 1)·SH + KH rows and PW = (OW - 1)·SW + KW columns, starting PadTop rows and
// PadLeft columns before the input. The window of output pixel (oh, ow) starts at padded cell
// (oh·SH, ow·SW); its tap (i, j) is the C floats at cell (oh·SH + i, ow·SW + j): one row offset per
// output pixel plus one offset per tap, the same for every pixel. No im2col matrix is built.
//
// Determinism: an output element is one chain of fused multiply-adds over k = tap·C + c ascending,
// started from zero, then bias added once and ReLU applied: exactly the chain of im2col + Gemm.Multiply
// followed by Activations.AddBias, so the two paths give the same bits.

/// <summary>
/// Indirect convolution (forward): register tiles of 6 output pixels x 64 filters read the input
/// windows in place from zero-padded images, with bias and ReLU fused into the store.
/// </summary>
public static unsafe partial class IndirectConv
{
    /// <summary>Filters per register tile: four Vector512.</summary>
    public const int FilterPanel = 64;

    /// <summary>Filters of the narrow tile (two Vector512), for F = 64·q + 32.</summary>
    public const int HalfPanel = 32;

    /// <summary>Output pixels per register tile (24 accumulators with the four vectors).</summary>
    private const int PixelTile = 6;

    /// <summary>Output pixels of the narrow tile (24 accumulators with two vectors).</summary>
    private const int NarrowPixelTile = 12;

    /// <summary>
    /// True when a SIMD kernel runs for this geometry: F a multiple of <see cref="HalfPanel"/> and
    /// AVX-512 (16-float tiles) or AVX2 with FMA (8-float tiles, IndirectConv.Avx2.cs); every element is
    /// the same chain either way, so every bit is the same.
    /// </summary>
    public static bool IsSupported(int filters) => filters % HalfPanel == 0 && (Supports512 || Supports256);

    /// <summary>AVX-512: the 6x64 and 12x32 tiles of 16-float vectors.</summary>
    internal static bool Supports512 => Vector512.IsHardwareAccelerated && Avx512F.IsSupported;

    /// <summary>AVX2 with FMA (16 registers of 8 floats): the 6x16 tiles.</summary>
    internal static bool Supports256 => Vector256.IsHardwareAccelerated && Avx2.IsSupported && Fma.IsSupported;

    /// <summary>PH = (OH - 1)·SH + KH: the rows of a padded image.</summary>
    public static int PaddedHeight(in ConvGeometry geometry) => (geometry.OutputHeight - 1) * geometry.StrideHeight + geometry.KernelHeight;

    /// <summary>PW = (OW - 1)·SW + KW: the columns of a padded image.</summary>
    public static int PaddedWidth(in ConvGeometry geometry) => (geometry.OutputWidth - 1) * geometry.StrideWidth + geometry.KernelWidth;

    /// <summary>PH · PW · C.</summary>
    public static int PaddedLength(in ConvGeometry geometry) => PaddedHeight(geometry) * PaddedWidth(geometry) * geometry.Channels;

    /// <summary>Whether <see cref="WeightGradient"/> runs its SIMD kernel: F a multiple of <see cref="FilterPanel"/>.</summary>
    public static bool SupportsWeightGradient(int filters) => filters % FilterPanel == 0 && IsSupported(filters);

    /// <summary>
    /// Whether the input gradient of a convolution can run as a forward convolution
    /// (<see cref="InputGradientGeometry"/>): strides of 1 and C, the gradient's "filters", supported.
    /// </summary>
    public static bool SupportsInputGradient(in ConvGeometry geometry) =>
        geometry.StrideHeight == 1 && geometry.StrideWidth == 1 && IsSupported(geometry.Channels);

    /// <summary>
    /// The geometry of the input gradient as a forward convolution (strides of 1): over dPre[N, OH, OW, F]
    /// (F as its channels) with the flipped kernel (<see cref="FlipKernel"/>), padded KH - 1 - PadTop rows
    /// and KW - 1 - PadLeft columns before, giving dInput[N, H, W, C]:
    /// dInput[y, x, c] = Σ over i, j, f of dPre[y + PadTop - i, x + PadLeft - j, f] · kernel[i, j, c, f].
    /// </summary>
    public static ConvGeometry InputGradientGeometry(in ConvGeometry geometry, int filters)
    {
        if (geometry.StrideHeight != 1 || geometry.StrideWidth != 1)
        {
            throw new ArgumentException($"The input gradient runs as a convolution only with strides of 1; received {geometry.StrideHeight}x{geometry.StrideWidth}.", nameof(geometry));
        }
        return new ConvGeometry(geometry.OutputHeight, geometry.OutputWidth, filters, geometry.KernelHeight, geometry.KernelWidth, 1, 1,
            geometry.InputHeight, geometry.InputWidth, geometry.KernelHeight - 1 - geometry.PadTop, geometry.KernelWidth - 1 - geometry.PadLeft);
    }

    /// <summary>flipped[KH, KW, F, C] = kernel[KH - 1 - i, KW - 1 - j, c, f]: the kernel of <see cref="InputGradientGeometry"/>.</summary>
    public static void FlipKernel(ReadOnlySpan<float> kernel, int kernelHeight, int kernelWidth, int channels, int filters, Span<float> flipped) =>
        FlipKernel(kernel, kernelHeight, kernelWidth, channels, filters, flipped, 0, kernelHeight * kernelWidth);

    /// <summary>
    /// <see cref="FlipKernel(ReadOnlySpan{float}, int, int, int, int, Span{float})"/> for the flipped kernel's taps
    /// [<paramref name="firstTap"/>, + <paramref name="taps"/>) only (row-major (i, j)), so that taps can be flipped in parallel.
    /// </summary>
    public static void FlipKernel(ReadOnlySpan<float> kernel, int kernelHeight, int kernelWidth, int channels, int filters, Span<float> flipped, int firstTap, int taps)
    {
        long length = (long)kernelHeight * kernelWidth * channels * filters;
        CheckLength(kernel.Length, length, nameof(kernel), "KH·KW·C·F");
        CheckLength(flipped.Length, length, nameof(flipped), "KH·KW·F·C");
        if (firstTap < 0 || taps < 0 || firstTap + taps > kernelHeight * kernelWidth)
        {
            throw new ArgumentOutOfRangeException(nameof(taps), $"FlipKernel expects taps within [0, {kernelHeight * kernelWidth}) (KH·KW); received {taps} from {firstTap}.");
        }
        for (int tap = firstTap; tap < firstTap + taps; tap++)
        {
            int i = tap / kernelWidth, j = tap % kernelWidth;
            ReadOnlySpan<float> source = kernel.Slice(((kernelHeight - 1 - i) * kernelWidth + kernelWidth - 1 - j) * channels * filters, channels * filters); // [C, F]
            Span<float> target = flipped.Slice(tap * filters * channels, filters * channels);                                                               // [F, C]
            Transpose.Matrix(source, channels, filters, target);
        }
    }

    /// <summary>padded[N, PH, PW, C] from input[N, H, W, C] for <paramref name="count"/> examples: zeros outside the input.</summary>
    public static void Pad(ReadOnlySpan<float> input, in ConvGeometry geometry, int count, Span<float> padded)
    {
        int channels = geometry.Channels;
        int paddedHeight = PaddedHeight(geometry), paddedWidth = PaddedWidth(geometry), paddedLength = PaddedLength(geometry);
        CheckLength(input.Length, (long)count * geometry.InputLength, nameof(input), "N·H·W·C");
        CheckLength(padded.Length, (long)count * paddedLength, nameof(padded), "N·PH·PW·C");
        // Columns [first, end) of a padded row come from input columns [first - PadLeft, end - PadLeft).
        int first = Math.Min(geometry.PadLeft, paddedWidth);
        int end = Math.Min(geometry.PadLeft + geometry.InputWidth, paddedWidth);
        int rowLength = paddedWidth * channels;
        for (int n = 0; n < count; n++)
        {
            ReadOnlySpan<float> image = input.Slice(n * geometry.InputLength, geometry.InputLength); // [H, W, C]
            Span<float> target = padded.Slice(n * paddedLength, paddedLength);                       // [PH, PW, C]
            for (int row = 0; row < paddedHeight; row++)
            {
                Span<float> paddedRow = target.Slice(row * rowLength, rowLength);
                int inputRow = row - geometry.PadTop;
                if ((uint)inputRow >= (uint)geometry.InputHeight || end <= first)
                {
                    paddedRow.Clear();
                    continue;
                }
                paddedRow.Slice(0, first * channels).Clear();
                image.Slice(inputRow * geometry.InputWidth * channels, (end - first) * channels).CopyTo(paddedRow.Slice(first * channels));
                paddedRow.Slice(end * channels).Clear();
            }
        }
    }

    /// <summary>
    /// output[r, F] = act(bias[F] + Σ over k of window(r)[k] · kernel[k, F]) for the output rows
    /// [<paramref name="firstRow"/>, <paramref name="firstRow"/> + <paramref name="rows"/>) of the examples
    /// in <paramref name="padded"/> (row r is pixel r mod OH·OW of example r div OH·OW), written to
    /// <paramref name="output"/> from its start; act is ReLU when <paramref name="relu"/>, and an empty
    /// <paramref name="bias"/> adds nothing (then <paramref name="relu"/> must be false).
    /// </summary>
    public static void Forward(ReadOnlySpan<float> padded, ReadOnlySpan<float> kernel, ReadOnlySpan<float> bias,
        in ConvGeometry geometry, int filters, int firstRow, int rows, bool relu, Span<float> output) =>
        Forward(padded, kernel, bias, geometry, filters, firstRow, rows, relu, output, use512: Supports512);

    /// <summary><see cref="Forward(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, in ConvGeometry, int, int, int, bool, Span{float})"/> with the AVX-512 tiles, or the AVX2 ones when <paramref name="use512"/> is false (tests run both).</summary>
    internal static void Forward(ReadOnlySpan<float> padded, ReadOnlySpan<float> kernel, ReadOnlySpan<float> bias,
        in ConvGeometry geometry, int filters, int firstRow, int rows, bool relu, Span<float> output, bool use512)
    {
        CheckForward(padded, kernel, bias, geometry, filters, firstRow, rows, relu, output);
        if (!IsSupported(filters))
        {
            ForwardReference(padded, kernel, bias, geometry, filters, firstRow, rows, relu, output);
            return;
        }
        nint* tapOffsets = stackalloc nint[geometry.KernelHeight * geometry.KernelWidth];
        int taps = TapOffsets(geometry, tapOffsets);
        fixed (float* paddedPointer = padded, kernelPointer = kernel, biasPointer = bias, outputPointer = output)
        {
            if (use512)
            {
                Forward512(paddedPointer, kernelPointer, bias.IsEmpty ? null : biasPointer, geometry, filters, firstRow, rows, relu,
                    outputPointer, tapOffsets, taps);
            }
            else
            {
                Forward256Unpacked(paddedPointer, kernelPointer, bias.IsEmpty ? null : biasPointer, geometry, filters, firstRow, rows, relu,
                    outputPointer, tapOffsets, taps);
            }
        }
    }

    /// <summary>The argument checks of the forward entry points (<paramref name="kernel"/> in either layout: patch·F floats).</summary>
    private static void CheckForward(ReadOnlySpan<float> padded, ReadOnlySpan<float> kernel, ReadOnlySpan<float> bias,
        in ConvGeometry geometry, int filters, int firstRow, int rows, bool relu, Span<float> output)
    {
        int examples = rows == 0 ? 0 : (firstRow + rows - 1) / geometry.OutputPixels + 1;
        CheckLength(padded.Length, (long)examples * PaddedLength(geometry), nameof(padded), "(examples reached)·PH·PW·C");
        CheckLength(kernel.Length, (long)geometry.PatchLength * filters, nameof(kernel), "KH·KW·C·F");
        CheckLength(output.Length, (long)rows * filters, nameof(output), "rows·F");
        if (!bias.IsEmpty)
        {
            CheckLength(bias.Length, filters, nameof(bias), "F");
        }
        if (bias.IsEmpty && relu)
        {
            throw new ArgumentException("IndirectConv fuses ReLU with the bias; without a bias apply ReLU afterwards.", nameof(relu));
        }
        if (firstRow < 0 || rows < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(firstRow), $"IndirectConv expects firstRow >= 0 and rows >= 0; received {firstRow} and {rows}.");
        }
    }

    /// <summary>Fills <paramref name="tapOffsets"/> with each tap's offset in a padded image (floats from the window's start); returns KH·KW.</summary>
    private static int TapOffsets(in ConvGeometry geometry, nint* tapOffsets)
    {
        int taps = geometry.KernelHeight * geometry.KernelWidth, paddedWidth = PaddedWidth(geometry), channels = geometry.Channels;
        for (int tap = 0; tap < taps; tap++)
        {
            tapOffsets[tap] = ((nint)(tap / geometry.KernelWidth) * paddedWidth + tap % geometry.KernelWidth) * channels;
        }
        return taps;
    }

    /// <summary>Scalar reference of <see cref="Forward"/> (any F).</summary>
    public static void ForwardReference(ReadOnlySpan<float> padded, ReadOnlySpan<float> kernel, ReadOnlySpan<float> bias,
        in ConvGeometry geometry, int filters, int firstRow, int rows, bool relu, Span<float> output)
    {
        int paddedWidth = PaddedWidth(geometry), paddedLength = PaddedLength(geometry), channels = geometry.Channels;
        for (int r = 0; r < rows; r++)
        {
            int row = firstRow + r, n = row / geometry.OutputPixels, pixel = row % geometry.OutputPixels;
            int oh = pixel / geometry.OutputWidth, ow = pixel % geometry.OutputWidth;
            int window = n * paddedLength + (oh * geometry.StrideHeight * paddedWidth + ow * geometry.StrideWidth) * channels;
            for (int f = 0; f < filters; f++)
            {
                float sum = 0f;
                for (int i = 0; i < geometry.KernelHeight; i++)
                {
                    for (int j = 0; j < geometry.KernelWidth; j++)
                    {
                        int cell = window + (i * paddedWidth + j) * channels;
                        int k = (i * geometry.KernelWidth + j) * channels;
                        for (int c = 0; c < channels; c++)
                        {
                            sum = MathF.FusedMultiplyAdd(padded[cell + c], kernel[(k + c) * filters + f], sum);
                        }
                    }
                }
                if (!bias.IsEmpty)
                {
                    sum += bias[f];
                    sum = relu ? Math.Max(sum, 0f) : sum;
                }
                output[r * filters + f] = sum;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Forward512(float* padded, float* kernel, float* bias, in ConvGeometry geometry, int filters,
        int firstRow, int rows, bool relu, float* output, nint* tapOffsets, int taps)
    {
        int pixels = geometry.OutputPixels, outputWidth = geometry.OutputWidth, channels = geometry.Channels;
        nint paddedLength = PaddedLength(geometry), paddedWidth = PaddedWidth(geometry);
        nint rowStep = geometry.StrideHeight * paddedWidth * channels, columnStep = (nint)geometry.StrideWidth * channels;
        nint kernelStride = filters, tapStride = (nint)channels * filters;
        float** windows = stackalloc float*[NarrowPixelTile];
        int widePanels = filters - filters % FilterPanel;
        if (widePanels < filters)
        {
            // The last 32 filters: 12 pixels x 32 filters.
            for (int r = 0; r < rows; r += NarrowPixelTile)
            {
                int tileRows = Math.Min(NarrowPixelTile, rows - r);
                for (int t = 0; t < NarrowPixelTile; t++)
                {
                    int row = firstRow + r + Math.Min(t, tileRows - 1), n = row / pixels, pixel = row - n * pixels;
                    int oh = pixel / outputWidth, ow = pixel - oh * outputWidth;
                    windows[t] = padded + n * paddedLength + oh * rowStep + ow * columnStep;
                }
                Tile12x2(windows, tapOffsets, taps, channels, kernel + widePanels, kernelStride, tapStride,
                    bias is null ? null : bias + widePanels, relu, output + (nint)r * filters + widePanels, filters, tileRows);
            }
        }
        for (int panel = 0; panel < widePanels; panel += FilterPanel)
        {
            for (int r = 0; r < rows; r += PixelTile)
            {
                int tileRows = Math.Min(PixelTile, rows - r);
                for (int t = 0; t < PixelTile; t++)
                {
                    // Rows past the end repeat the last valid one (computed, not stored).
                    int row = firstRow + r + Math.Min(t, tileRows - 1), n = row / pixels, pixel = row - n * pixels;
                    int oh = pixel / outputWidth, ow = pixel - oh * outputWidth;
                    windows[t] = padded + n * paddedLength + oh * rowStep + ow * columnStep;
                }
                Tile6x4(windows, tapOffsets, taps, channels, kernel + panel, kernelStride, tapStride,
                    bias is null ? null : bias + panel, relu, output + (nint)r * filters + panel, filters, tileRows);
            }
        }
    }

    /// <summary>6 output pixels x 64 filters: 24 accumulators over every tap and channel, then bias and ReLU at the store.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile6x4(float** windows, nint* tapOffsets, int taps, int channels, float* kernel, nint kernelStride, nint tapStride,
        float* bias, bool relu, float* output, nint outputStride, int rows)
    {
        Debug.Assert(rows >= 1 && rows <= PixelTile);
        float* w0 = windows[0], w1 = windows[1], w2 = windows[2], w3 = windows[3], w4 = windows[4], w5 = windows[5];
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default;
        Vector512<float> a40 = default, a41 = default, a42 = default, a43 = default;
        Vector512<float> a50 = default, a51 = default, a52 = default, a53 = default;
        for (int tap = 0; tap < taps; tap++)
        {
            nint offset = tapOffsets[tap];
            float* x0 = w0 + offset, x1 = w1 + offset, x2 = w2 + offset, x3 = w3 + offset, x4 = w4 + offset, x5 = w5 + offset;
            float* k = kernel + tap * tapStride;
            for (int c = 0; c < channels; c++, k += kernelStride)
            {
                Vector512<float> k0 = Vector512.Load(k), k1 = Vector512.Load(k + 16), k2 = Vector512.Load(k + 32), k3 = Vector512.Load(k + 48);
                Vector512<float> x = Vector512.Create(x0[c]);
                a00 = Vector512.FusedMultiplyAdd(x, k0, a00); a01 = Vector512.FusedMultiplyAdd(x, k1, a01);
                a02 = Vector512.FusedMultiplyAdd(x, k2, a02); a03 = Vector512.FusedMultiplyAdd(x, k3, a03);
                x = Vector512.Create(x1[c]);
                a10 = Vector512.FusedMultiplyAdd(x, k0, a10); a11 = Vector512.FusedMultiplyAdd(x, k1, a11);
                a12 = Vector512.FusedMultiplyAdd(x, k2, a12); a13 = Vector512.FusedMultiplyAdd(x, k3, a13);
                x = Vector512.Create(x2[c]);
                a20 = Vector512.FusedMultiplyAdd(x, k0, a20); a21 = Vector512.FusedMultiplyAdd(x, k1, a21);
                a22 = Vector512.FusedMultiplyAdd(x, k2, a22); a23 = Vector512.FusedMultiplyAdd(x, k3, a23);
                x = Vector512.Create(x3[c]);
                a30 = Vector512.FusedMultiplyAdd(x, k0, a30); a31 = Vector512.FusedMultiplyAdd(x, k1, a31);
                a32 = Vector512.FusedMultiplyAdd(x, k2, a32); a33 = Vector512.FusedMultiplyAdd(x, k3, a33);
                x = Vector512.Create(x4[c]);
                a40 = Vector512.FusedMultiplyAdd(x, k0, a40); a41 = Vector512.FusedMultiplyAdd(x, k1, a41);
                a42 = Vector512.FusedMultiplyAdd(x, k2, a42); a43 = Vector512.FusedMultiplyAdd(x, k3, a43);
                x = Vector512.Create(x5[c]);
                a50 = Vector512.FusedMultiplyAdd(x, k0, a50); a51 = Vector512.FusedMultiplyAdd(x, k1, a51);
                a52 = Vector512.FusedMultiplyAdd(x, k2, a52); a53 = Vector512.FusedMultiplyAdd(x, k3, a53);
            }
        }
        StoreRow(output, a00, a01, a02, a03, bias, relu);
        if (rows > 1)
        {
            StoreRow(output + outputStride, a10, a11, a12, a13, bias, relu);
        }
        if (rows > 2)
        {
            StoreRow(output + 2 * outputStride, a20, a21, a22, a23, bias, relu);
        }
        if (rows > 3)
        {
            StoreRow(output + 3 * outputStride, a30, a31, a32, a33, bias, relu);
        }
        if (rows > 4)
        {
            StoreRow(output + 4 * outputStride, a40, a41, a42, a43, bias, relu);
        }
        if (rows > 5)
        {
            StoreRow(output + 5 * outputStride, a50, a51, a52, a53, bias, relu);
        }
    }

    /// <summary>Rows of dPre per block of the weight gradient, measured best of 32-384 on conv2 and conv3: a panel of the block (12 KiB) stays in L1 across the tiles.</summary>
    internal static int GradientRowBlock = 48;

    /// <summary>Patch entries (rows of dKernel) per weight-gradient register tile.</summary>
    private const int PatchTile = 6;

    /// <summary>
    /// dKernel[k, F] = Σ over rows r of window(r)[k] · dPre[r, F] for the <paramref name="rows"/> output rows of
    /// the examples in <paramref name="padded"/> (row r is pixel r mod OH·OW of example r div OH·OW), k = tap·C + c:
    /// the weight gradient read from the zero-padded examples in place, with no im2col matrix.
    /// <paramref name="dKernel"/> is overwritten, or continued when <paramref name="accumulate"/> (the chain
    /// goes on from the stored value, so several calls over consecutive rows give the bits of one). Each element is one chain of fused multiply-adds over the rows in
    /// ascending order, started from zero, as <see cref="Gemm.MultiplyTransposeA"/> computes columnsᵀ · dPre.
    /// </summary>
    public static void WeightGradient(ReadOnlySpan<float> padded, ReadOnlySpan<float> dPre, in ConvGeometry geometry, int filters, int rows,
        Span<float> dKernel, bool accumulate = false) =>
        WeightGradient(padded, dPre, geometry, filters, rows, dKernel, accumulate, use512: Supports512);

    /// <summary><see cref="WeightGradient(ReadOnlySpan{float}, ReadOnlySpan{float}, in ConvGeometry, int, int, Span{float}, bool)"/> with the AVX-512 tiles, or the AVX2 ones when <paramref name="use512"/> is false (tests run both).</summary>
    internal static void WeightGradient(ReadOnlySpan<float> padded, ReadOnlySpan<float> dPre, in ConvGeometry geometry, int filters, int rows,
        Span<float> dKernel, bool accumulate, bool use512)
    {
        int examples = rows == 0 ? 0 : (rows - 1) / geometry.OutputPixels + 1;
        CheckLength(padded.Length, (long)examples * PaddedLength(geometry), nameof(padded), "(examples reached)·PH·PW·C");
        CheckLength(dPre.Length, (long)rows * filters, nameof(dPre), "rows·F");
        CheckLength(dKernel.Length, (long)geometry.PatchLength * filters, nameof(dKernel), "KH·KW·C·F");
        if (rows < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), $"IndirectConv expects rows >= 0; received {rows}.");
        }
        if (!SupportsWeightGradient(filters) || geometry.PatchLength > 1 << 14)
        {
            WeightGradientReference(padded, dPre, geometry, filters, rows, dKernel, accumulate);
            return;
        }
        int patch = geometry.PatchLength, channels = geometry.Channels;
        int* patchOffsets = stackalloc int[patch + PatchTile];
        for (int k = 0; k < patch; k++)
        {
            patchOffsets[k] = ((k / channels / geometry.KernelWidth) * PaddedWidth(geometry) + (k / channels) % geometry.KernelWidth) * channels + k % channels;
        }
        for (int k = patch; k < patch + PatchTile; k++)
        {
            patchOffsets[k] = patchOffsets[patch - 1]; // a partial last tile repeats its last entry (computed, not stored)
        }
        float** windows = stackalloc float*[GradientRowBlock];
        float* dPrePanel = stackalloc float[GradientRowBlock * Panel256];
        if (!accumulate)
        {
            dKernel.Slice(0, patch * filters).Clear();
        }
        fixed (float* paddedPointer = padded, dPrePointer = dPre, dKernelPointer = dKernel)
        {
            int pixels = geometry.OutputPixels, outputWidth = geometry.OutputWidth;
            nint paddedLength = PaddedLength(geometry), paddedWidth = PaddedWidth(geometry);
            nint rowStep = geometry.StrideHeight * paddedWidth * channels, columnStep = (nint)geometry.StrideWidth * channels;
            for (int block = 0; block < rows; block += GradientRowBlock)
            {
                int blockRows = Math.Min(GradientRowBlock, rows - block);
                for (int r = 0; r < blockRows; r++)
                {
                    int row = block + r, n = row / pixels, pixel = row - n * pixels;
                    int oh = pixel / outputWidth, ow = pixel - oh * outputWidth;
                    windows[r] = paddedPointer + n * paddedLength + oh * rowStep + ow * columnStep;
                }
                // Panel outer: one panel of the block of dPre (48 rows x 64 or 16 filters) serves every tile.
                if (use512)
                {
                    for (int panel = 0; panel < filters; panel += FilterPanel)
                    {
                        for (int k = 0; k < patch; k += PatchTile)
                        {
                            WeightTile6x4(windows, blockRows, patchOffsets + k, Math.Min(PatchTile, patch - k),
                                dPrePointer + (nint)block * filters + panel, filters, dKernelPointer + (nint)k * filters + panel, filters);
                        }
                    }
                }
                else
                {
                    for (int panel = 0; panel < filters; panel += Panel256)
                    {
                        // The panel's rows of dPre are F floats apart (a few L1 sets): copied together first.
                        float* source = dPrePointer + (nint)block * filters + panel;
                        for (int r = 0; r < blockRows; r++, source += filters)
                        {
                            Vector256.Load(source).Store(dPrePanel + r * Panel256);
                            Vector256.Load(source + 8).Store(dPrePanel + r * Panel256 + 8);
                        }
                        for (int k = 0; k < patch; k += PatchTile)
                        {
                            WeightTile6x16(windows, blockRows, patchOffsets + k, Math.Min(PatchTile, patch - k),
                                dPrePanel, Panel256, dKernelPointer + (nint)k * filters + panel, filters);
                        }
                    }
                }
            }
        }
    }

    /// <summary>Scalar reference of <see cref="WeightGradient"/> (any F).</summary>
    public static void WeightGradientReference(ReadOnlySpan<float> padded, ReadOnlySpan<float> dPre, in ConvGeometry geometry, int filters, int rows,
        Span<float> dKernel, bool accumulate = false)
    {
        int paddedWidth = PaddedWidth(geometry), paddedLength = PaddedLength(geometry), channels = geometry.Channels;
        int patch = geometry.PatchLength;
        for (int k = 0; k < patch; k++)
        {
            int tap = k / channels, offset = ((tap / geometry.KernelWidth) * paddedWidth + tap % geometry.KernelWidth) * channels + k % channels;
            for (int f = 0; f < filters; f++)
            {
                float sum = accumulate ? dKernel[k * filters + f] : 0f;
                for (int row = 0; row < rows; row++)
                {
                    int n = row / geometry.OutputPixels, pixel = row % geometry.OutputPixels;
                    int oh = pixel / geometry.OutputWidth, ow = pixel % geometry.OutputWidth;
                    int window = n * paddedLength + (oh * geometry.StrideHeight * paddedWidth + ow * geometry.StrideWidth) * channels;
                    sum = MathF.FusedMultiplyAdd(padded[window + offset], dPre[row * filters + f], sum);
                }
                dKernel[k * filters + f] = sum;
            }
        }
    }

    /// <summary>
    /// 6 rows of dKernel x 64 filters: the accumulators are loaded, carried over the block's rows
    /// (6 window values broadcast, 4 vectors of dPre per row) and stored back.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightTile6x4(float** windows, int rows, int* offsets, int patchRows, float* dPre, nint dPreStride,
        float* dKernel, nint dKernelStride)
    {
        // Rows past patchRows load row 0 (valid memory) and are never stored. The row pointers are
        // computed again for the store, so that fewer registers stay live across the loop.
        Vector512<float> a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23;
        Vector512<float> a30, a31, a32, a33, a40, a41, a42, a43, a50, a51, a52, a53;
        {
            float* k0p = dKernel, k1p = patchRows > 1 ? dKernel + dKernelStride : dKernel, k2p = patchRows > 2 ? dKernel + 2 * dKernelStride : dKernel;
            float* k3p = patchRows > 3 ? dKernel + 3 * dKernelStride : dKernel, k4p = patchRows > 4 ? dKernel + 4 * dKernelStride : dKernel;
            float* k5p = patchRows > 5 ? dKernel + 5 * dKernelStride : dKernel;
            a00 = Vector512.Load(k0p); a01 = Vector512.Load(k0p + 16); a02 = Vector512.Load(k0p + 32); a03 = Vector512.Load(k0p + 48);
            a10 = Vector512.Load(k1p); a11 = Vector512.Load(k1p + 16); a12 = Vector512.Load(k1p + 32); a13 = Vector512.Load(k1p + 48);
            a20 = Vector512.Load(k2p); a21 = Vector512.Load(k2p + 16); a22 = Vector512.Load(k2p + 32); a23 = Vector512.Load(k2p + 48);
            a30 = Vector512.Load(k3p); a31 = Vector512.Load(k3p + 16); a32 = Vector512.Load(k3p + 32); a33 = Vector512.Load(k3p + 48);
            a40 = Vector512.Load(k4p); a41 = Vector512.Load(k4p + 16); a42 = Vector512.Load(k4p + 32); a43 = Vector512.Load(k4p + 48);
            a50 = Vector512.Load(k5p); a51 = Vector512.Load(k5p + 16); a52 = Vector512.Load(k5p + 32); a53 = Vector512.Load(k5p + 48);
        }
        nint o0 = offsets[0], o1 = offsets[1], o2 = offsets[2], o3 = offsets[3], o4 = offsets[4], o5 = offsets[5];
        float* d = dPre;
        for (int r = 0; r < rows; r++, d += dPreStride)
        {
            float* w = windows[r];
            Vector512<float> d0 = Vector512.Load(d), d1 = Vector512.Load(d + 16), d2 = Vector512.Load(d + 32), d3 = Vector512.Load(d + 48);
            Vector512<float> x = Vector512.Create(w[o0]);
            a00 = Vector512.FusedMultiplyAdd(x, d0, a00); a01 = Vector512.FusedMultiplyAdd(x, d1, a01);
            a02 = Vector512.FusedMultiplyAdd(x, d2, a02); a03 = Vector512.FusedMultiplyAdd(x, d3, a03);
            x = Vector512.Create(w[o1]);
            a10 = Vector512.FusedMultiplyAdd(x, d0, a10); a11 = Vector512.FusedMultiplyAdd(x, d1, a11);
            a12 = Vector512.FusedMultiplyAdd(x, d2, a12); a13 = Vector512.FusedMultiplyAdd(x, d3, a13);
            x = Vector512.Create(w[o2]);
            a20 = Vector512.FusedMultiplyAdd(x, d0, a20); a21 = Vector512.FusedMultiplyAdd(x, d1, a21);
            a22 = Vector512.FusedMultiplyAdd(x, d2, a22); a23 = Vector512.FusedMultiplyAdd(x, d3, a23);
            x = Vector512.Create(w[o3]);
            a30 = Vector512.FusedMultiplyAdd(x, d0, a30); a31 = Vector512.FusedMultiplyAdd(x, d1, a31);
            a32 = Vector512.FusedMultiplyAdd(x, d2, a32); a33 = Vector512.FusedMultiplyAdd(x, d3, a33);
            x = Vector512.Create(w[o4]);
            a40 = Vector512.FusedMultiplyAdd(x, d0, a40); a41 = Vector512.FusedMultiplyAdd(x, d1, a41);
            a42 = Vector512.FusedMultiplyAdd(x, d2, a42); a43 = Vector512.FusedMultiplyAdd(x, d3, a43);
            x = Vector512.Create(w[o5]);
            a50 = Vector512.FusedMultiplyAdd(x, d0, a50); a51 = Vector512.FusedMultiplyAdd(x, d1, a51);
            a52 = Vector512.FusedMultiplyAdd(x, d2, a52); a53 = Vector512.FusedMultiplyAdd(x, d3, a53);
        }
        StoreRow(dKernel, a00, a01, a02, a03, null, false);
        if (patchRows > 1) { StoreRow(dKernel + dKernelStride, a10, a11, a12, a13, null, false); }
        if (patchRows > 2) { StoreRow(dKernel + 2 * dKernelStride, a20, a21, a22, a23, null, false); }
        if (patchRows > 3) { StoreRow(dKernel + 3 * dKernelStride, a30, a31, a32, a33, null, false); }
        if (patchRows > 4) { StoreRow(dKernel + 4 * dKernelStride, a40, a41, a42, a43, null, false); }
        if (patchRows > 5) { StoreRow(dKernel + 5 * dKernelStride, a50, a51, a52, a53, null, false); }
    }

    /// <summary>12 output pixels x 32 filters: 24 accumulators over every tap and channel, then bias and ReLU at the store.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile12x2(float** windows, nint* tapOffsets, int taps, int channels, float* kernel, nint kernelStride, nint tapStride,
        float* bias, bool relu, float* output, nint outputStride, int rows)
    {
        Debug.Assert(rows >= 1 && rows <= NarrowPixelTile);
        Vector512<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default;
        Vector512<float> a30 = default, a31 = default, a40 = default, a41 = default, a50 = default, a51 = default;
        Vector512<float> a60 = default, a61 = default, a70 = default, a71 = default, a80 = default, a81 = default;
        Vector512<float> a90 = default, a91 = default, aA0 = default, aA1 = default, aB0 = default, aB1 = default;
        for (int tap = 0; tap < taps; tap++)
        {
            nint offset = tapOffsets[tap];
            float* x0 = windows[0] + offset, x1 = windows[1] + offset, x2 = windows[2] + offset, x3 = windows[3] + offset;
            float* x4 = windows[4] + offset, x5 = windows[5] + offset, x6 = windows[6] + offset, x7 = windows[7] + offset;
            float* x8 = windows[8] + offset, x9 = windows[9] + offset, xA = windows[10] + offset, xB = windows[11] + offset;
            float* k = kernel + tap * tapStride;
            for (int c = 0; c < channels; c++, k += kernelStride)
            {
                Vector512<float> k0 = Vector512.Load(k), k1 = Vector512.Load(k + 16);
                Vector512<float> x = Vector512.Create(x0[c]);
                a00 = Vector512.FusedMultiplyAdd(x, k0, a00); a01 = Vector512.FusedMultiplyAdd(x, k1, a01);
                x = Vector512.Create(x1[c]);
                a10 = Vector512.FusedMultiplyAdd(x, k0, a10); a11 = Vector512.FusedMultiplyAdd(x, k1, a11);
                x = Vector512.Create(x2[c]);
                a20 = Vector512.FusedMultiplyAdd(x, k0, a20); a21 = Vector512.FusedMultiplyAdd(x, k1, a21);
                x = Vector512.Create(x3[c]);
                a30 = Vector512.FusedMultiplyAdd(x, k0, a30); a31 = Vector512.FusedMultiplyAdd(x, k1, a31);
                x = Vector512.Create(x4[c]);
                a40 = Vector512.FusedMultiplyAdd(x, k0, a40); a41 = Vector512.FusedMultiplyAdd(x, k1, a41);
                x = Vector512.Create(x5[c]);
                a50 = Vector512.FusedMultiplyAdd(x, k0, a50); a51 = Vector512.FusedMultiplyAdd(x, k1, a51);
                x = Vector512.Create(x6[c]);
                a60 = Vector512.FusedMultiplyAdd(x, k0, a60); a61 = Vector512.FusedMultiplyAdd(x, k1, a61);
                x = Vector512.Create(x7[c]);
                a70 = Vector512.FusedMultiplyAdd(x, k0, a70); a71 = Vector512.FusedMultiplyAdd(x, k1, a71);
                x = Vector512.Create(x8[c]);
                a80 = Vector512.FusedMultiplyAdd(x, k0, a80); a81 = Vector512.FusedMultiplyAdd(x, k1, a81);
                x = Vector512.Create(x9[c]);
                a90 = Vector512.FusedMultiplyAdd(x, k0, a90); a91 = Vector512.FusedMultiplyAdd(x, k1, a91);
                x = Vector512.Create(xA[c]);
                aA0 = Vector512.FusedMultiplyAdd(x, k0, aA0); aA1 = Vector512.FusedMultiplyAdd(x, k1, aA1);
                x = Vector512.Create(xB[c]);
                aB0 = Vector512.FusedMultiplyAdd(x, k0, aB0); aB1 = Vector512.FusedMultiplyAdd(x, k1, aB1);
            }
        }
        StoreHalfRow(output, a00, a01, bias, relu);
        if (rows > 1) { StoreHalfRow(output + outputStride, a10, a11, bias, relu); }
        if (rows > 2) { StoreHalfRow(output + 2 * outputStride, a20, a21, bias, relu); }
        if (rows > 3) { StoreHalfRow(output + 3 * outputStride, a30, a31, bias, relu); }
        if (rows > 4) { StoreHalfRow(output + 4 * outputStride, a40, a41, bias, relu); }
        if (rows > 5) { StoreHalfRow(output + 5 * outputStride, a50, a51, bias, relu); }
        if (rows > 6) { StoreHalfRow(output + 6 * outputStride, a60, a61, bias, relu); }
        if (rows > 7) { StoreHalfRow(output + 7 * outputStride, a70, a71, bias, relu); }
        if (rows > 8) { StoreHalfRow(output + 8 * outputStride, a80, a81, bias, relu); }
        if (rows > 9) { StoreHalfRow(output + 9 * outputStride, a90, a91, bias, relu); }
        if (rows > 10) { StoreHalfRow(output + 10 * outputStride, aA0, aA1, bias, relu); }
        if (rows > 11) { StoreHalfRow(output + 11 * outputStride, aB0, aB1, bias, relu); }
    }

    /// <summary>Stores 32 sums, plus the bias and through ReLU when given.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreHalfRow(float* destination, Vector512<float> s0, Vector512<float> s1, float* bias, bool relu)
    {
        if (bias is not null)
        {
            s0 += Vector512.Load(bias);
            s1 += Vector512.Load(bias + 16);
            if (relu)
            {
                s0 = Vector512.Max(s0, Vector512<float>.Zero);
                s1 = Vector512.Max(s1, Vector512<float>.Zero);
            }
        }
        s0.Store(destination);
        s1.Store(destination + 16);
    }

    /// <summary>Stores 64 sums, plus the bias and through ReLU when given (as <see cref="Activations.AddBias"/> computes them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* destination, Vector512<float> s0, Vector512<float> s1, Vector512<float> s2, Vector512<float> s3,
        float* bias, bool relu)
    {
        if (bias is not null)
        {
            s0 += Vector512.Load(bias);
            s1 += Vector512.Load(bias + 16);
            s2 += Vector512.Load(bias + 32);
            s3 += Vector512.Load(bias + 48);
            if (relu)
            {
                s0 = Vector512.Max(s0, Vector512<float>.Zero);
                s1 = Vector512.Max(s1, Vector512<float>.Zero);
                s2 = Vector512.Max(s2, Vector512<float>.Zero);
                s3 = Vector512.Max(s3, Vector512<float>.Zero);
            }
        }
        s0.Store(destination);
        s1.Store(destination + 16);
        s2.Store(destination + 32);
        s3.Store(destination + 48);
    }

    private static void CheckLength(long length, long required, string name, string formula)
    {
        if (length < required)
        {
            throw new ArgumentException($"IndirectConv expects {name} to hold at least {formula} = {required} floats; received {length}.", name);
        }
    }
}
