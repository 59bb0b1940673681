using System.Diagnostics;

namespace Engine.Kernels;

// Shape legend: N batch, H/W input spatial, C in-channels, KH/KW kernel, OH/OW output spatial.
// An im2col row holds one output pixel's receptive field in HWIO order: [(i·KW + j)·C + c],
// zeros where the window hangs over the padding.

/// <summary>im2col / col2im for NHWC inputs with separate strides in height and width.</summary>
public static class Im2Col
{
    private const int ShortRow = 16;

    /// <summary>
    /// columns[N·OH·OW, KH·KW·C] from input[N, H, W, C] for <paramref name="count"/> examples.
    /// </summary>
    public static void Expand(ReadOnlySpan<float> input, in ConvGeometry geometry, int count, Span<float> columns)
    {
        int channels = geometry.Channels;
        int rowLength = geometry.PatchLength;
        Debug.Assert(input.Length >= count * geometry.InputLength);
        Debug.Assert(columns.Length >= count * geometry.OutputPixels * rowLength);
        int row = 0;
        for (int n = 0; n < count; n++)
        {
            ReadOnlySpan<float> image = input.Slice(n * geometry.InputLength, geometry.InputLength); // [H, W, C]
            for (int oh = 0; oh < geometry.OutputHeight; oh++)
            {
                for (int ow = 0; ow < geometry.OutputWidth; ow++, row++)
                {
                    Span<float> patch = columns.Slice(row * rowLength, rowLength); // [KH, KW, C]
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
        int channels = geometry.Channels;
        int rowLength = geometry.PatchLength;
        input.Slice(0, count * geometry.InputLength).Clear();
        int row = 0;
        for (int n = 0; n < count; n++)
        {
            Span<float> image = input.Slice(n * geometry.InputLength, geometry.InputLength); // [H, W, C]
            for (int oh = 0; oh < geometry.OutputHeight; oh++)
            {
                for (int ow = 0; ow < geometry.OutputWidth; ow++, row++)
                {
                    ReadOnlySpan<float> patch = columns.Slice(row * rowLength, rowLength); // [KH, KW, C]
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
                        Span<float> target = image.Slice(((ih * geometry.InputWidth) + iwStart + firstInside) * channels, length);
                        System.Numerics.Tensors.TensorPrimitives.Add(target,
                            patch.Slice((i * geometry.KernelWidth + firstInside) * channels, length), target);
                    }
                }
            }
        }
    }
}
