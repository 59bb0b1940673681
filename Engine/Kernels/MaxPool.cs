using System.Diagnostics;
using System.Runtime.Intrinsics;

namespace Engine.Kernels;

// Shape legend: N batch, H/W input spatial, C channels, OH/OW output spatial; the window is
// KH x KW (the pool size) moved by the strides. Padded cells never win (they act as -inf).

/// <summary>Max-pool forward (recording the winner of each window) and backward.</summary>
public static class MaxPool
{
    /// <summary>
    /// output[N, OH, OW, C] = the max of each window of input[N, H, W, C]; argmax[N, OH, OW, C] (unless empty: inference)
    /// receives the index of the FIRST maximal input of the window in row-major order (TensorFlow's
    /// CPU rule), relative to the start of the example.
    /// </summary>
    public static void Forward(ReadOnlySpan<float> input, in ConvGeometry geometry, int count, Span<float> output, Span<int> argmax)
    {
        if (Float512.IsAccelerated && geometry.Channels % Float512.Count == 0)
        {
            ForwardVector<Float512, Vector512<float>>(input, geometry, count, output, argmax);
        }
        else if (Float256.IsAccelerated && geometry.Channels % Float256.Count == 0)
        {
            ForwardVector<Float256, Vector256<float>>(input, geometry, count, output, argmax);
        }
        else
        {
            ForwardReference(input, geometry, count, output, argmax);
        }
    }

    /// <summary>
    /// <see cref="Forward"/> with <c>TLanes.Count</c> channels per vector (C a multiple of it: 16 floats
    /// in a Vector512, 8 in a Vector256); the same strict "greater than" scan in row-major window order,
    /// so equal to <see cref="ForwardReference"/>. Each window's cells are listed once and reused for
    /// every vector of channels.
    /// </summary>
    internal static unsafe void ForwardVector<TLanes, TVector>(ReadOnlySpan<float> input, in ConvGeometry geometry, int count, Span<float> output, Span<int> argmax)
        where TLanes : struct, IFloatVector<TVector>
        where TVector : struct
    {
        int channels = geometry.Channels;
        int outputLength = geometry.OutputPixels * channels;
        CheckChannels(channels, TLanes.Count);
        CheckLength(input.Length, (long)count * geometry.InputLength, nameof(input), "N·H·W·C");
        CheckLength(output.Length, (long)count * outputLength, nameof(output), "N·OH·OW·C");
        bool record = !argmax.IsEmpty; // an empty argmax: the values only (inference)
        if (record)
        {
            CheckLength(argmax.Length, (long)count * outputLength, nameof(argmax), "N·OH·OW·C");
        }
        int* cells = stackalloc int[geometry.KernelHeight * geometry.KernelWidth];
        fixed (float* inputPointer = input, outputPointer = output)
        fixed (int* argmaxPointer = argmax)
        {
            for (int n = 0; n < count; n++)
            {
                float* image = inputPointer + (nint)n * geometry.InputLength;    // [H, W, C]
                float* pooled = outputPointer + (nint)n * outputLength;          // [OH, OW, C]
                int* winners = argmaxPointer + (nint)n * outputLength;           // [OH, OW, C]
                for (int oh = 0; oh < geometry.OutputHeight; oh++)
                {
                    for (int ow = 0; ow < geometry.OutputWidth; ow++)
                    {
                        int outBase = (oh * geometry.OutputWidth + ow) * channels;
                        if (WholeWindow2x2(geometry, oh, ow, out int cell0))
                        {
                            // A whole 2x2 window (the common case), unrolled: the same scan.
                            int cell1 = cell0 + channels, cell2 = cell0 + geometry.InputWidth * channels, cell3 = cell2 + channels;
                            if (!record)
                            {
                                for (int c = 0; c < channels; c += TLanes.Count)
                                {
                                    TVector max = TLanes.Load(image + cell0 + c);
                                    TVector next = TLanes.Load(image + cell1 + c);
                                    max = TLanes.Select(TLanes.GreaterThan(next, max), next, max);
                                    next = TLanes.Load(image + cell2 + c);
                                    max = TLanes.Select(TLanes.GreaterThan(next, max), next, max);
                                    next = TLanes.Load(image + cell3 + c);
                                    max = TLanes.Select(TLanes.GreaterThan(next, max), next, max);
                                    TLanes.Store(pooled + outBase + c, max);
                                }
                                continue;
                            }
                            for (int c = 0; c < channels; c += TLanes.Count)
                            {
                                TVector best = TLanes.Load(image + cell0 + c);
                                TVector bestIndex = TLanes.Indices(cell0 + c);
                                TVector value = TLanes.Load(image + cell1 + c);
                                TVector greater = TLanes.GreaterThan(value, best);
                                best = TLanes.Select(greater, value, best);
                                bestIndex = TLanes.Select(greater, TLanes.Indices(cell1 + c), bestIndex);
                                value = TLanes.Load(image + cell2 + c);
                                greater = TLanes.GreaterThan(value, best);
                                best = TLanes.Select(greater, value, best);
                                bestIndex = TLanes.Select(greater, TLanes.Indices(cell2 + c), bestIndex);
                                value = TLanes.Load(image + cell3 + c);
                                greater = TLanes.GreaterThan(value, best);
                                best = TLanes.Select(greater, value, best);
                                bestIndex = TLanes.Select(greater, TLanes.Indices(cell3 + c), bestIndex);
                                TLanes.Store(pooled + outBase + c, best);
                                TLanes.StoreInts(winners + outBase + c, bestIndex);
                            }
                            continue;
                        }
                        int cellCount = WindowCells(geometry, oh, ow, cells);
                        for (int c = 0; c < channels; c += TLanes.Count)
                        {
                            int firstIndex = cells[0] + c;
                            TVector best = TLanes.Load(image + firstIndex);
                            TVector bestIndex = TLanes.Indices(firstIndex);
                            for (int k = 1; k < cellCount; k++)
                            {
                                int cell = cells[k] + c;
                                TVector value = TLanes.Load(image + cell);
                                TVector greater = TLanes.GreaterThan(value, best);
                                best = TLanes.Select(greater, value, best);
                                bestIndex = TLanes.Select(greater, TLanes.Indices(cell), bestIndex);
                            }
                            TLanes.Store(pooled + outBase + c, best);
                            if (record)
                            {
                                TLanes.StoreInts(winners + outBase + c, bestIndex);
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// Whether <paramref name="pool"/> takes the 2x2 blocks of an [height, width, channels] image from its top-left corner
    /// as its windows, each block one window (the last row and column of blocks cut on an odd size): a 2x2 pool with
    /// strides of 2, no padding before, covering the image (SAME, or VALID with even sizes). A kernel that makes those
    /// blocks can then pool them itself (<see cref="PoolWindow{TV, T}"/>).
    /// </summary>
    internal static bool PoolsBlocks2x2(int height, int width, int channels, in ConvGeometry pool) =>
        pool.KernelHeight == 2 && pool.KernelWidth == 2 && pool.StrideHeight == 2 && pool.StrideWidth == 2
        && pool.PadTop == 0 && pool.PadLeft == 0 && pool.Channels == channels
        && pool.InputHeight == height && pool.InputWidth == width
        && pool.OutputHeight == (height + 1) / 2 && pool.OutputWidth == (width + 1) / 2;

    /// <summary>Throws unless <see cref="PoolsBlocks2x2"/>, saying what <paramref name="caller"/> expected and what it received.</summary>
    internal static void CheckPoolsBlocks2x2(string caller, int height, int width, int channels, in ConvGeometry pool)
    {
        if (!PoolsBlocks2x2(height, width, channels, pool))
        {
            throw new ArgumentException(
                $"{caller} expects a 2x2 pool with strides of 2 whose windows are the output's 2x2 blocks from its top-left corner ({(height + 1) / 2}x{(width + 1) / 2} windows over {height}x{width}x{channels}); received a {pool.KernelHeight}x{pool.KernelWidth} pool, strides {pool.StrideHeight}x{pool.StrideWidth}, {pool.OutputHeight}x{pool.OutputWidth} windows over {pool.InputHeight}x{pool.InputWidth}x{pool.Channels}, padded {pool.PadTop} above and {pool.PadLeft} left.",
                nameof(pool));
        }
    }

    /// <summary>
    /// The max of a 2x2 window's values for one vector of channels from <paramref name="f"/> (y0 its top-left, y1 right, y2 below, y3
    /// below right; y1 only when <paramref name="right"/>, y2 only when <paramref name="below"/>), scanned as
    /// <see cref="Forward"/> does (the first strictly greater value in row-major order wins), into <paramref name="pooled"/>;
    /// the winner's index (its cell + f + lane) into <paramref name="winner"/> unless null. For kernels that pool the
    /// windows they compute (<see cref="Winograd.ForwardPooled"/>, <see cref="DirectConv.ForwardPooled"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void PoolWindow<TV, T>(float* pooled, int* winner, int f, T y0, T y1, T y2, T y3,
        int cell0, int cell1, int cell2, int cell3, bool right, bool below)
        where TV : IFloatVector<T> where T : struct
    {
        T best = y0;
        T index = TV.Indices(cell0 + f);
        if (right)
        {
            T greater = TV.GreaterThan(y1, best);
            best = TV.Select(greater, y1, best);
            index = TV.Select(greater, TV.Indices(cell1 + f), index);
        }
        if (below)
        {
            T greater = TV.GreaterThan(y2, best);
            best = TV.Select(greater, y2, best);
            index = TV.Select(greater, TV.Indices(cell2 + f), index);
            if (right)
            {
                greater = TV.GreaterThan(y3, best);
                best = TV.Select(greater, y3, best);
                index = TV.Select(greater, TV.Indices(cell3 + f), index);
            }
        }
        TV.Store(pooled, best);
        if (winner is not null)
        {
            TV.StoreInts(winner, index);
        }
    }

    /// <summary>
    /// Whether window (oh, ow) is a 2x2 window lying wholly inside the input; if so <paramref name="cell0"/>
    /// is its first cell's offset (h·W + w)·C (the others: + C, + W·C, + W·C + C).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool WholeWindow2x2(in ConvGeometry geometry, int oh, int ow, out int cell0)
    {
        int h = oh * geometry.StrideHeight - geometry.PadTop, w = ow * geometry.StrideWidth - geometry.PadLeft;
        cell0 = (h * geometry.InputWidth + w) * geometry.Channels;
        return geometry.KernelHeight == 2 && geometry.KernelWidth == 2
            && h >= 0 && h + 2 <= geometry.InputHeight && w >= 0 && w + 2 <= geometry.InputWidth;
    }

    /// <summary>
    /// Lists the input cells of window (oh, ow) inside the input, in row-major order, as offsets
    /// (h·W + w)·C from the start of the example; returns how many (at least 1).
    /// </summary>
    private static unsafe int WindowCells(in ConvGeometry geometry, int oh, int ow, int* cells)
    {
        int hStart = oh * geometry.StrideHeight - geometry.PadTop;
        int hFirst = Math.Max(hStart, 0);
        int hEnd = Math.Min(hStart + geometry.KernelHeight, geometry.InputHeight);
        int wStart = ow * geometry.StrideWidth - geometry.PadLeft;
        int wFirst = Math.Max(wStart, 0);
        int wEnd = Math.Min(wStart + geometry.KernelWidth, geometry.InputWidth);
        int cellCount = 0;
        for (int h = hFirst; h < hEnd; h++)
        {
            for (int w = wFirst; w < wEnd; w++)
            {
                cells[cellCount++] = (h * geometry.InputWidth + w) * geometry.Channels;
            }
        }
        return cellCount;
    }

    private static void CheckChannels(int channels, int lanes)
    {
        if (channels % lanes != 0)
        {
            throw new ArgumentException($"MaxPool's {lanes}-lane kernels expect C to be a multiple of {lanes}; received C={channels}.", nameof(channels));
        }
    }

    private static void CheckLength(long length, long required, string name, string formula)
    {
        if (length < required)
        {
            throw new ArgumentException($"MaxPool expects {name} to hold at least {formula} = {required} values; received {length}.", name);
        }
    }

    /// <summary>Scalar reference of <see cref="Forward"/>.</summary>
    public static void ForwardReference(ReadOnlySpan<float> input, in ConvGeometry geometry, int count, Span<float> output, Span<int> argmax)
    {
        int channels = geometry.Channels;
        int outputLength = geometry.OutputPixels * channels;
        Debug.Assert(input.Length >= count * geometry.InputLength && output.Length >= count * outputLength);
        for (int n = 0; n < count; n++)
        {
            ReadOnlySpan<float> image = input.Slice(n * geometry.InputLength, geometry.InputLength); // [H, W, C]
            Span<float> pooled = output.Slice(n * outputLength, outputLength);                      // [OH, OW, C]
            Span<int> winners = argmax.IsEmpty ? default : argmax.Slice(n * outputLength, outputLength); // [OH, OW, C]
            for (int oh = 0; oh < geometry.OutputHeight; oh++)
            {
                int hStart = oh * geometry.StrideHeight - geometry.PadTop;
                int hFirst = Math.Max(hStart, 0);
                int hEnd = Math.Min(hStart + geometry.KernelHeight, geometry.InputHeight);
                for (int ow = 0; ow < geometry.OutputWidth; ow++)
                {
                    int wStart = ow * geometry.StrideWidth - geometry.PadLeft;
                    int wFirst = Math.Max(wStart, 0);
                    int wEnd = Math.Min(wStart + geometry.KernelWidth, geometry.InputWidth);
                    int outBase = (oh * geometry.OutputWidth + ow) * channels;
                    int firstIndex = (hFirst * geometry.InputWidth + wFirst) * channels;
                    for (int c = 0; c < channels; c++)
                    {
                        pooled[outBase + c] = image[firstIndex + c];
                        if (!winners.IsEmpty)
                        {
                            winners[outBase + c] = firstIndex + c;
                        }
                    }
                    for (int h = hFirst; h < hEnd; h++)
                    {
                        for (int w = h == hFirst ? wFirst + 1 : wFirst; w < wEnd; w++)
                        {
                            int cellBase = (h * geometry.InputWidth + w) * channels;
                            for (int c = 0; c < channels; c++)
                            {
                                float value = image[cellBase + c];
                                if (value > pooled[outBase + c])
                                {
                                    pooled[outBase + c] = value;
                                    if (!winners.IsEmpty)
                                    {
                                        winners[outBase + c] = cellBase + c;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// dInput[N, H, W, C] = Σ over windows of dOutput routed to each window's recorded winner;
    /// <paramref name="dInput"/> is overwritten. With a non-empty <paramref name="output"/> (the pooled
    /// values [N, OH, OW, C]) a window whose pooled value is not positive routes 0 instead: the gradient
    /// through a ReLU before the pool, since the winner's input is the pooled value.
    /// </summary>
    public static void Backward(ReadOnlySpan<float> dOutput, ReadOnlySpan<int> argmax, in ConvGeometry geometry, int count, Span<float> dInput,
        ReadOnlySpan<float> output = default)
    {
        if (Float512.IsAccelerated && geometry.Channels % Float512.Count == 0 && TilesTheInput(geometry))
        {
            BackwardTiled<Float512, Vector512<float>>(dOutput, argmax, geometry, count, dInput, output);
        }
        else if (Float256.IsAccelerated && geometry.Channels % Float256.Count == 0 && TilesTheInput(geometry))
        {
            BackwardTiled<Float256, Vector256<float>>(dOutput, argmax, geometry, count, dInput, output);
        }
        else
        {
            BackwardReference(dOutput, argmax, geometry, count, dInput, output);
        }
    }

    /// <summary>
    /// Whether the windows neither overlap nor leave cells out (stride = pool size, and the output
    /// covers the input: SAME, or VALID with an exact fit), so that every input cell belongs to exactly one window.
    /// </summary>
    public static bool TilesTheInput(in ConvGeometry geometry) =>
        geometry.StrideHeight == geometry.KernelHeight && geometry.StrideWidth == geometry.KernelWidth
        && geometry.OutputHeight * geometry.StrideHeight - geometry.PadTop >= geometry.InputHeight
        && geometry.OutputWidth * geometry.StrideWidth - geometry.PadLeft >= geometry.InputWidth;

    /// <summary>
    /// <see cref="Backward"/> for windows that tile the input (see <see cref="TilesTheInput"/>): each
    /// cell is written once, with its window's gradient where it is the winner and 0 elsewhere, a
    /// vector of channels at a time (C a multiple of <c>TLanes.Count</c>); no clearing pass and no scatter. Equal to <see cref="BackwardReference"/>
    /// (a cell receives at most one addend, added to 0).
    /// </summary>
    internal static unsafe void BackwardTiled<TLanes, TVector>(ReadOnlySpan<float> dOutput, ReadOnlySpan<int> argmax, in ConvGeometry geometry, int count,
        Span<float> dInput, ReadOnlySpan<float> output = default)
        where TLanes : struct, IFloatVector<TVector>
        where TVector : struct
    {
        int channels = geometry.Channels;
        int outputLength = geometry.OutputPixels * channels;
        CheckChannels(channels, TLanes.Count);
        if (!TilesTheInput(geometry))
        {
            throw new ArgumentException("MaxPool.BackwardTiled expects windows that tile the input (stride = pool size, the output covering the input).", nameof(geometry));
        }
        CheckLength(dOutput.Length, (long)count * outputLength, nameof(dOutput), "N·OH·OW·C");
        CheckLength(argmax.Length, (long)count * outputLength, nameof(argmax), "N·OH·OW·C");
        CheckLength(dInput.Length, (long)count * geometry.InputLength, nameof(dInput), "N·H·W·C");
        bool masked = !output.IsEmpty;
        if (masked)
        {
            CheckLength(output.Length, (long)count * outputLength, nameof(output), "N·OH·OW·C");
        }
        int* cells = stackalloc int[geometry.KernelHeight * geometry.KernelWidth];
        fixed (float* dOutputPointer = dOutput, dInputPointer = dInput, outputPointer = output)
        fixed (int* argmaxPointer = argmax)
        {
            for (int n = 0; n < count; n++)
            {
                float* image = dInputPointer + (nint)n * geometry.InputLength;     // [H, W, C]
                float* gradient = dOutputPointer + (nint)n * outputLength;        // [OH, OW, C]
                float* pooled = outputPointer + (nint)n * outputLength;           // [OH, OW, C], when masked
                int* winners = argmaxPointer + (nint)n * outputLength;            // [OH, OW, C]
                for (int oh = 0; oh < geometry.OutputHeight; oh++)
                {
                    for (int ow = 0; ow < geometry.OutputWidth; ow++)
                    {
                        int outBase = (oh * geometry.OutputWidth + ow) * channels;
                        if (WholeWindow2x2(geometry, oh, ow, out int cell0))
                        {
                            // A whole 2x2 window (the common case), unrolled.
                            int cell1 = cell0 + channels, cell2 = cell0 + geometry.InputWidth * channels, cell3 = cell2 + channels;
                            for (int c = 0; c < channels; c += TLanes.Count)
                            {
                                TVector g = Load<TLanes, TVector>(gradient + outBase + c, pooled + outBase + c, masked);
                                TVector winner = TLanes.LoadInts(winners + outBase + c);
                                // + 0 as the reference's 0 + g: a gradient of -0 lands as +0 there too.
                                TLanes.Store(image + cell0 + c, TLanes.Add(TLanes.BitwiseAnd(g, TLanes.EqualInts(winner, TLanes.Indices(cell0 + c))), TLanes.Zero));
                                TLanes.Store(image + cell1 + c, TLanes.Add(TLanes.BitwiseAnd(g, TLanes.EqualInts(winner, TLanes.Indices(cell1 + c))), TLanes.Zero));
                                TLanes.Store(image + cell2 + c, TLanes.Add(TLanes.BitwiseAnd(g, TLanes.EqualInts(winner, TLanes.Indices(cell2 + c))), TLanes.Zero));
                                TLanes.Store(image + cell3 + c, TLanes.Add(TLanes.BitwiseAnd(g, TLanes.EqualInts(winner, TLanes.Indices(cell3 + c))), TLanes.Zero));
                            }
                            continue;
                        }
                        int cellCount = WindowCells(geometry, oh, ow, cells);
                        for (int c = 0; c < channels; c += TLanes.Count)
                        {
                            TVector g = Load<TLanes, TVector>(gradient + outBase + c, pooled + outBase + c, masked);
                            TVector winner = TLanes.LoadInts(winners + outBase + c);
                            for (int k = 0; k < cellCount; k++)
                            {
                                int cell = cells[k] + c;
                                TVector won = TLanes.EqualInts(winner, TLanes.Indices(cell));
                                // + 0 as the reference's 0 + g: a gradient of -0 lands as +0 there too.
                                TLanes.Store(image + cell, TLanes.Add(TLanes.BitwiseAnd(g, won), TLanes.Zero));
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>One vector of gradients, zeroed where the pooled value is not positive when <paramref name="masked"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe TVector Load<TLanes, TVector>(float* gradient, float* pooled, bool masked)
        where TLanes : struct, IFloatVector<TVector>
        where TVector : struct
    {
        TVector g = TLanes.Load(gradient);
        return masked ? TLanes.BitwiseAnd(g, TLanes.GreaterThan(TLanes.Load(pooled), TLanes.Zero)) : g;
    }

    /// <summary>Scalar reference of <see cref="Backward"/>: clear, then scatter each window's gradient to its winner.</summary>
    public static void BackwardReference(ReadOnlySpan<float> dOutput, ReadOnlySpan<int> argmax, in ConvGeometry geometry, int count, Span<float> dInput,
        ReadOnlySpan<float> output = default)
    {
        int outputLength = geometry.OutputPixels * geometry.Channels;
        dInput.Slice(0, count * geometry.InputLength).Clear();
        for (int n = 0; n < count; n++)
        {
            Span<float> image = dInput.Slice(n * geometry.InputLength, geometry.InputLength);
            ReadOnlySpan<float> gradient = dOutput.Slice(n * outputLength, outputLength);
            ReadOnlySpan<int> winners = argmax.Slice(n * outputLength, outputLength);
            for (int index = 0; index < outputLength; index++)
            {
                image[winners[index]] += output.IsEmpty || output[n * outputLength + index] > 0f ? gradient[index] : 0f;
            }
        }
    }
}
