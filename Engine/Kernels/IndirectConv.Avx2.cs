using System.Diagnostics;
using System.Runtime.Intrinsics;

namespace Engine.Kernels;

// The AVX2 tiles of IndirectConv: 16 registers of 8 floats, so a tile holds 12 accumulators (6 rows x
// 2 vectors), 2 vectors of the other operand and 1 broadcast. Every element is the same chain as in the
// AVX-512 tiles and the scalar references (see IndirectConv.cs), so the bits do not depend on the width.

public static unsafe partial class IndirectConv
{
    /// <summary>Filters per AVX2 register tile: two Vector256.</summary>
    private const int Panel256 = 16;

    /// <summary>Forward over panels of 16 filters (<paramref name="panels"/>, as <see cref="PackPanels"/> lays them out) and tiles of 6 output pixels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Forward256(float* padded, float* panels, float* bias, in ConvGeometry geometry, int filters,
        int firstRow, int rows, bool relu, float* output, nint* tapOffsets, int taps)
    {
        Debug.Assert(filters % Panel256 == 0);
        int pixels = geometry.OutputPixels, outputWidth = geometry.OutputWidth, channels = geometry.Channels;
        nint paddedLength = PaddedLength(geometry), paddedWidth = PaddedWidth(geometry);
        nint rowStep = geometry.StrideHeight * paddedWidth * channels, columnStep = (nint)geometry.StrideWidth * channels;
        float** windows = stackalloc float*[PixelTile];
        int patch = taps * channels;
        for (int panel = 0; panel < filters; panel += Panel256)
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
                Tile6x16(windows, tapOffsets, taps, channels, panels + (nint)panel * patch,
                    bias is null ? null : bias + panel, relu, output + (nint)r * filters + panel, filters, tileRows);
            }
        }
    }

    /// <summary>
    /// True when <see cref="Forward(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, in ConvGeometry, int, int, int, bool, Span{float})"/>
    /// runs the AVX2 tiles, which read the kernel as panels of 16 filters: a caller that convolves many
    /// times with one kernel packs it once (<see cref="PackPanels"/>) and calls <see cref="ForwardPanels"/>.
    /// </summary>
    public static bool ReadsPanels => !Supports512 && Supports256;

    /// <summary>
    /// panels[F / 16][patch][16] from kernel[patch, F] (F a multiple of 16): a panel's rows are consecutive,
    /// where in the kernel they are F floats apart, which maps them onto a few L1 sets (a stride of 256 B
    /// or more) so that they are evicted between tiles.
    /// </summary>
    public static void PackPanels(ReadOnlySpan<float> kernel, int patch, int filters, Span<float> panels)
    {
        if (patch < 0 || filters < 0 || filters % Panel256 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(filters), $"IndirectConv.PackPanels expects patch >= 0 and F a multiple of {Panel256}; received patch={patch}, F={filters}.");
        }
        CheckLength(kernel.Length, (long)patch * filters, nameof(kernel), "patch·F");
        CheckLength(panels.Length, (long)patch * filters, nameof(panels), "patch·F");
        for (int panel = 0; panel < filters; panel += Panel256)
        {
            Span<float> target = panels.Slice(panel * patch, patch * Panel256);
            for (int k = 0; k < patch; k++)
            {
                kernel.Slice(k * filters + panel, Panel256).CopyTo(target.Slice(k * Panel256, Panel256));
            }
        }
    }

    /// <summary>
    /// <see cref="Forward(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, in ConvGeometry, int, int, int, bool, Span{float})"/>
    /// with the kernel already packed by <see cref="PackPanels"/> (F a multiple of 16), through the AVX2
    /// tiles: the same bits.
    /// </summary>
    public static void ForwardPanels(ReadOnlySpan<float> padded, ReadOnlySpan<float> panels, ReadOnlySpan<float> bias,
        in ConvGeometry geometry, int filters, int firstRow, int rows, bool relu, Span<float> output)
    {
        if (filters % Panel256 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(filters), $"IndirectConv.ForwardPanels expects F a multiple of {Panel256}; received F={filters}.");
        }
        CheckForward(padded, panels, bias, geometry, filters, firstRow, rows, relu, output);
        nint* tapOffsets = stackalloc nint[geometry.KernelHeight * geometry.KernelWidth];
        int taps = TapOffsets(geometry, tapOffsets);
        fixed (float* paddedPointer = padded, panelsPointer = panels, biasPointer = bias, outputPointer = output)
        {
            Forward256(paddedPointer, panelsPointer, bias.IsEmpty ? null : biasPointer, geometry, filters, firstRow, rows, relu,
                outputPointer, tapOffsets, taps);
        }
    }

    /// <summary>Packs <paramref name="kernel"/> into a per-thread buffer (grown, never shrunk) and runs <see cref="Forward256"/> on it.</summary>
    private static void Forward256Unpacked(float* padded, float* kernel, float* bias, in ConvGeometry geometry, int filters,
        int firstRow, int rows, bool relu, float* output, nint* tapOffsets, int taps)
    {
        int length = geometry.PatchLength * filters;
        if (t_panels is null || t_panels.Length < length)
        {
            t_panels = new float[length];
        }
        PackPanels(new ReadOnlySpan<float>(kernel, length), geometry.PatchLength, filters, t_panels);
        fixed (float* panels = t_panels)
        {
            Forward256(padded, panels, bias, geometry, filters, firstRow, rows, relu, output, tapOffsets, taps);
        }
    }

    [ThreadStatic]
    private static float[]? t_panels;

    /// <summary>
    /// 6 output pixels x 16 filters: 12 accumulators over every tap and channel, then bias and ReLU at the store.
    /// <paramref name="panel"/> is one packed panel: its rows, tap-major then channel, 16 floats apart.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile6x16(float** windows, nint* tapOffsets, int taps, int channels, float* panel,
        float* bias, bool relu, float* output, nint outputStride, int rows)
    {
        Debug.Assert(rows >= 1 && rows <= PixelTile);
        float* w0 = windows[0], w1 = windows[1], w2 = windows[2], w3 = windows[3], w4 = windows[4], w5 = windows[5];
        Vector256<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default;
        Vector256<float> a30 = default, a31 = default, a40 = default, a41 = default, a50 = default, a51 = default;
        for (int tap = 0; tap < taps; tap++)
        {
            nint offset = tapOffsets[tap];
            float* x0 = w0 + offset, x1 = w1 + offset, x2 = w2 + offset, x3 = w3 + offset, x4 = w4 + offset, x5 = w5 + offset;
            for (int c = 0; c < channels; c++, panel += Panel256)
            {
                Vector256<float> k0 = Vector256.Load(panel), k1 = Vector256.Load(panel + 8);
                Vector256<float> x = Vector256.Create(x0[c]);
                a00 = Vector256.FusedMultiplyAdd(x, k0, a00); a01 = Vector256.FusedMultiplyAdd(x, k1, a01);
                x = Vector256.Create(x1[c]);
                a10 = Vector256.FusedMultiplyAdd(x, k0, a10); a11 = Vector256.FusedMultiplyAdd(x, k1, a11);
                x = Vector256.Create(x2[c]);
                a20 = Vector256.FusedMultiplyAdd(x, k0, a20); a21 = Vector256.FusedMultiplyAdd(x, k1, a21);
                x = Vector256.Create(x3[c]);
                a30 = Vector256.FusedMultiplyAdd(x, k0, a30); a31 = Vector256.FusedMultiplyAdd(x, k1, a31);
                x = Vector256.Create(x4[c]);
                a40 = Vector256.FusedMultiplyAdd(x, k0, a40); a41 = Vector256.FusedMultiplyAdd(x, k1, a41);
                x = Vector256.Create(x5[c]);
                a50 = Vector256.FusedMultiplyAdd(x, k0, a50); a51 = Vector256.FusedMultiplyAdd(x, k1, a51);
            }
        }
        Store16(output, a00, a01, bias, relu);
        if (rows > 1) { Store16(output + outputStride, a10, a11, bias, relu); }
        if (rows > 2) { Store16(output + 2 * outputStride, a20, a21, bias, relu); }
        if (rows > 3) { Store16(output + 3 * outputStride, a30, a31, bias, relu); }
        if (rows > 4) { Store16(output + 4 * outputStride, a40, a41, bias, relu); }
        if (rows > 5) { Store16(output + 5 * outputStride, a50, a51, bias, relu); }
    }

    /// <summary>
    /// 6 rows of dKernel x 16 filters: the accumulators are loaded, carried over the block's rows
    /// (6 window values broadcast, 2 vectors of dPre per row) and stored back.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightTile6x16(float** windows, int rows, int* offsets, int patchRows, float* dPre, nint dPreStride,
        float* dKernel, nint dKernelStride)
    {
        // Rows past patchRows load row 0 (valid memory) and are never stored.
        float* k0p = dKernel, k1p = patchRows > 1 ? dKernel + dKernelStride : dKernel, k2p = patchRows > 2 ? dKernel + 2 * dKernelStride : dKernel;
        float* k3p = patchRows > 3 ? dKernel + 3 * dKernelStride : dKernel, k4p = patchRows > 4 ? dKernel + 4 * dKernelStride : dKernel;
        float* k5p = patchRows > 5 ? dKernel + 5 * dKernelStride : dKernel;
        Vector256<float> a00 = Vector256.Load(k0p), a01 = Vector256.Load(k0p + 8), a10 = Vector256.Load(k1p), a11 = Vector256.Load(k1p + 8);
        Vector256<float> a20 = Vector256.Load(k2p), a21 = Vector256.Load(k2p + 8), a30 = Vector256.Load(k3p), a31 = Vector256.Load(k3p + 8);
        Vector256<float> a40 = Vector256.Load(k4p), a41 = Vector256.Load(k4p + 8), a50 = Vector256.Load(k5p), a51 = Vector256.Load(k5p + 8);
        nint o0 = offsets[0], o1 = offsets[1], o2 = offsets[2], o3 = offsets[3], o4 = offsets[4], o5 = offsets[5];
        float* d = dPre;
        for (int r = 0; r < rows; r++, d += dPreStride)
        {
            float* w = windows[r];
            Vector256<float> d0 = Vector256.Load(d), d1 = Vector256.Load(d + 8);
            Vector256<float> x = Vector256.Create(w[o0]);
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
        Store16(k0p, a00, a01, null, false);
        if (patchRows > 1) { Store16(k1p, a10, a11, null, false); }
        if (patchRows > 2) { Store16(k2p, a20, a21, null, false); }
        if (patchRows > 3) { Store16(k3p, a30, a31, null, false); }
        if (patchRows > 4) { Store16(k4p, a40, a41, null, false); }
        if (patchRows > 5) { Store16(k5p, a50, a51, null, false); }
    }

    /// <summary>Stores 16 sums, plus the bias and through ReLU when given (as <see cref="Activations.AddBias"/> computes them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store16(float* destination, Vector256<float> s0, Vector256<float> s1, float* bias, bool relu)
    {
        if (bias is not null)
        {
            s0 += Vector256.Load(bias);
            s1 += Vector256.Load(bias + 8);
            if (relu)
            {
                s0 = Float256.Relu(s0);
                s1 = Float256.Relu(s1);
            }
        }
        s0.Store(destination);
        s1.Store(destination + 8);
    }
}
