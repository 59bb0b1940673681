using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels;

// Shape legend: N batch, H/W input spatial, C in-channels, KH/KW kernel, OH/OW output spatial.
// An im2col row holds one output pixel's receptive field in HWIO order: [(i·KW + j)·C + c],
// zeros where the window hangs over the padding. Row r is output pixel r mod OH·OW of example
// r div OH·OW.

/// <summary>im2col / col2im for NHWC inputs with separate strides in height and width.</summary>
public static class Im2Col
{
    private const int ShortRow = 16;

    /// <summary>
    /// columns[N·OH·OW, KH·KW·C] from input[N, H, W, C] for <paramref name="count"/> examples.
    /// </summary>
    public static void Expand(ReadOnlySpan<float> input, in ConvGeometry geometry, int count, Span<float> columns) =>
        ExpandRows(input, geometry, 0, count * geometry.OutputPixels, columns);

    /// <summary>
    /// Rows [<paramref name="firstRow"/>, firstRow + <paramref name="rowCount"/>) of the im2col matrix of
    /// input[N, H, W, C], written to columns[rowCount, KH·KW·C]: a block small enough to stay in cache.
    /// </summary>
    public static void ExpandRows(ReadOnlySpan<float> input, in ConvGeometry geometry, int firstRow, int rowCount, Span<float> columns)
    {
        int channels = geometry.Channels;
        int rowLength = geometry.PatchLength;
        int pixels = geometry.OutputPixels;
        Debug.Assert(input.Length >= (firstRow + rowCount + pixels - 1) / pixels * geometry.InputLength);
        Debug.Assert(columns.Length >= rowCount * rowLength);
        int n = firstRow / pixels, pixel = firstRow % pixels;
        int oh = pixel / geometry.OutputWidth, ow = pixel % geometry.OutputWidth;
        for (int row = 0; row < rowCount; row++)
        {
            ReadOnlySpan<float> image = input.Slice(n * geometry.InputLength, geometry.InputLength); // [H, W, C]
            Span<float> patch = columns.Slice(row * rowLength, rowLength);                         // [KH, KW, C]
            for (int i = 0; i < geometry.KernelHeight; i++)
            {
                int ih = oh * geometry.StrideHeight - geometry.PadTop + i;
                Span<float> patchRow = patch.Slice(i * geometry.KernelWidth * channels, geometry.KernelWidth * channels);
                if ((uint)ih >= (uint)geometry.InputHeight)
                {
                    patchRow.Clear();
                    continue;
                }
                int iwStart = ow * geometry.StrideWidth - geometry.PadLeft;
                int firstInside = Math.Max(0, -iwStart);
                int lastInside = Math.Min(geometry.KernelWidth, geometry.InputWidth - iwStart); // exclusive
                if (lastInside <= firstInside)
                {
                    patchRow.Clear();
                    continue;
                }
                int before = firstInside * channels, inside = (lastInside - firstInside) * channels;
                int source = ((ih * geometry.InputWidth) + iwStart + firstInside) * channels;
                if (patchRow.Length <= ShortRow)
                {
                    // Few channels (the first layer): element loops beat the calls' overhead.
                    for (int k = 0; k < before; k++)
                    {
                        patchRow[k] = 0f;
                    }
                    for (int k = 0; k < inside; k++)
                    {
                        patchRow[before + k] = image[source + k];
                    }
                    for (int k = before + inside; k < patchRow.Length; k++)
                    {
                        patchRow[k] = 0f;
                    }
                    continue;
                }
                patchRow.Slice(0, before).Clear();
                image.Slice(source, inside).CopyTo(patchRow.Slice(before));
                patchRow.Slice(before + inside).Clear();
            }
            if (++ow == geometry.OutputWidth)
            {
                ow = 0;
                if (++oh == geometry.OutputHeight)
                {
                    oh = 0;
                    n++;
                }
            }
        }
    }

    /// <summary>
    /// The adjoint of <see cref="Expand"/>: input[N, H, W, C] = Σ of columns[N·OH·OW, KH·KW·C] over
    /// every window that read each input cell. <paramref name="input"/> is overwritten.
    /// </summary>
    public static void Fold(ReadOnlySpan<float> columns, in ConvGeometry geometry, int count, Span<float> input)
    {
        input.Slice(0, count * geometry.InputLength).Clear();
        FoldRows(columns, geometry, 0, count * geometry.OutputPixels, input);
    }

    /// <summary>
    /// Adds rows [<paramref name="firstRow"/>, firstRow + <paramref name="rowCount"/>) of an im2col-shaped
    /// gradient columns[rowCount, KH·KW·C] into input[N, H, W, C] (the adjoint of <see cref="ExpandRows"/>).
    /// Blocks folded in row order into a cleared input give the bits of one <see cref="Fold"/>.
    /// </summary>
    public static void FoldRows(ReadOnlySpan<float> columns, in ConvGeometry geometry, int firstRow, int rowCount, Span<float> input)
    {
        int channels = geometry.Channels;
        int rowLength = geometry.PatchLength;
        int pixels = geometry.OutputPixels;
        Debug.Assert(columns.Length >= rowCount * rowLength);
        int n = firstRow / pixels, pixel = firstRow % pixels;
        int oh = pixel / geometry.OutputWidth, ow = pixel % geometry.OutputWidth;
        for (int row = 0; row < rowCount; row++)
        {
            Span<float> image = input.Slice(n * geometry.InputLength, geometry.InputLength); // [H, W, C]
            ReadOnlySpan<float> patch = columns.Slice(row * rowLength, rowLength);          // [KH, KW, C]
            for (int i = 0; i < geometry.KernelHeight; i++)
            {
                int ih = oh * geometry.StrideHeight - geometry.PadTop + i;
                if ((uint)ih >= (uint)geometry.InputHeight)
                {
                    continue;
                }
                int iwStart = ow * geometry.StrideWidth - geometry.PadLeft;
                int firstInside = Math.Max(0, -iwStart);
                int lastInside = Math.Min(geometry.KernelWidth, geometry.InputWidth - iwStart);
                if (lastInside <= firstInside)
                {
                    continue;
                }
                int length = (lastInside - firstInside) * channels;
                AddTo(image.Slice(((ih * geometry.InputWidth) + iwStart + firstInside) * channels, length),
                    patch.Slice((i * geometry.KernelWidth + firstInside) * channels, length));
            }
            if (++ow == geometry.OutputWidth)
            {
                ow = 0;
                if (++oh == geometry.OutputHeight)
                {
                    oh = 0;
                    n++;
                }
            }
        }
    }

    /// <summary>target[i] += source[i], inline (a call per window row costs more than the sum for short rows).</summary>
    private static void AddTo(Span<float> target, ReadOnlySpan<float> source)
    {
        int index = Float512.IsAccelerated ? AddVectors<Float512, Vector512<float>>(target, source)
            : Float256.IsAccelerated ? AddVectors<Float256, Vector256<float>>(target, source)
            : 0;
        for (; index < target.Length; index++)
        {
            target[index] += source[index];
        }
    }

    /// <summary>target[i] += source[i] over the whole vectors of <c>TLanes.Count</c>; returns where the tail starts.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe int AddVectors<TLanes, TVector>(Span<float> target, ReadOnlySpan<float> source)
        where TLanes : struct, IFloatVector<TVector>
        where TVector : struct
    {
        Debug.Assert(source.Length >= target.Length);
        int length = target.Length, index = 0;
        fixed (float* to = target, from = source)
        {
            for (; index <= length - TLanes.Count; index += TLanes.Count)
            {
                TLanes.Store(to + index, TLanes.Add(TLanes.Load(to + index), TLanes.Load(from + index)));
            }
        }
        return index;
    }
}
