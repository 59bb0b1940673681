using System.Runtime.Intrinsics;

namespace Engine.Kernels;

// Shape legend: M rows of the left operand, N columns of the result, K the reduced dimension.
// All matrices are row-major and dense (row stride = column count).

/// <summary>
/// Matrix products used by Dense and Conv2D (forward, input gradient, weight gradient): serial
/// SIMD kernels (AVX-512, else AVX2, else the scalar references) that callers split over threads
/// by row ranges.
/// </summary>
/// <remarks>
/// Every output element is one chain of fused multiply-adds in ascending order of the reduced
/// index, exactly as in the scalar <c>...Reference</c> twins, so each product equals its reference
/// bit for bit, whatever the vector width, and an output row's value does not depend on the row
/// range of the call. See GemmKernels.cs for the tiles.
/// </remarks>
public static class Gemm
{
    /// <summary>bᵀ for <see cref="MultiplyTransposeB"/>: one buffer per thread, grown to the largest K·N seen, never shrunk.</summary>
    [ThreadStatic]
    private static float[]? t_transposed;

    /// <summary>c[M, N] = a[M, K] · b[K, N] (or += when <paramref name="accumulate"/>).</summary>
    /// <remarks>With <paramref name="accumulate"/>, c[i, j] is the first addend of the chain: c + a₀b₀ + a₁b₁ + ….</remarks>
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, Span<float> c, bool accumulate)
    {
        CheckDimensions(m, n, k);
        CheckLength(a.Length, (long)m * k, nameof(a), "M·K");
        CheckLength(b.Length, (long)k * n, nameof(b), "K·N");
        CheckLength(c.Length, (long)m * n, nameof(c), "M·N");
        if (Gemm512.IsSupported)
        {
            GemmKernels.Multiply<Gemm512, Vector512<float>>(a, b, m, n, k, c, accumulate);
        }
        else if (Gemm256.IsSupported)
        {
            GemmKernels.Multiply<Gemm256, Vector256<float>>(a, b, m, n, k, c, accumulate);
        }
        else
        {
            MultiplyReference(a, b, m, n, k, c, accumulate);
        }
    }

    /// <summary>
    /// Columns [first, first + count) of c[M, N] = a[M, K] · b[K, N], the other columns untouched: the
    /// same values as <see cref="Multiply"/> writes there, so column panels can go to different threads.
    /// </summary>
    public static void MultiplyColumns(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, Span<float> c, int first, int count)
    {
        CheckDimensions(m, n, k);
        CheckLength(a.Length, (long)m * k, nameof(a), "M·K");
        CheckLength(b.Length, (long)k * n, nameof(b), "K·N");
        CheckLength(c.Length, (long)m * n, nameof(c), "M·N");
        if (first < 0 || count < 0 || first > n - count)
        {
            throw new ArgumentOutOfRangeException(nameof(first), $"Gemm.MultiplyColumns expects 0 <= first and first + count <= N = {n}; received first={first}, count={count}.");
        }
        if (Gemm512.IsSupported)
        {
            GemmKernels.MultiplyColumns<Gemm512, Vector512<float>>(a, b, m, n, k, c, first, count);
        }
        else if (Gemm256.IsSupported)
        {
            GemmKernels.MultiplyColumns<Gemm256, Vector256<float>>(a, b, m, n, k, c, first, count);
        }
        else
        {
            for (int row = 0; row < m; row++)
            {
                for (int column = first; column < first + count; column++)
                {
                    float sum = 0f;
                    for (int depth = 0; depth < k; depth++)
                    {
                        sum = MathF.FusedMultiplyAdd(a[row * k + depth], b[depth * n + column], sum);
                    }
                    c[row * n + column] = sum;
                }
            }
        }
    }

    /// <summary>Scalar reference of <see cref="Multiply"/>: c[M, N] (+)= a[M, K] · b[K, N].</summary>
    public static void MultiplyReference(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, Span<float> c, bool accumulate)
    {
        for (int row = 0; row < m; row++)
        {
            for (int column = 0; column < n; column++)
            {
                float sum = accumulate ? c[row * n + column] : 0f;
                for (int p = 0; p < k; p++)
                {
                    sum = MathF.FusedMultiplyAdd(a[row * k + p], b[p * n + column], sum);
                }
                c[row * n + column] = sum;
            }
        }
    }

    /// <summary>
    /// c[K, N] = aᵀ · b for a[M, K], b[M, N] (or += when <paramref name="accumulate"/>): the weight
    /// gradient, a reduction over the M rows in ascending order.
    /// </summary>
    /// <remarks>With <paramref name="accumulate"/>, c[p, j] is the first addend of the chain.</remarks>
    public static void MultiplyTransposeA(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, Span<float> c, bool accumulate)
    {
        CheckDimensions(m, n, k);
        CheckLength(a.Length, (long)m * k, nameof(a), "M·K");
        CheckLength(b.Length, (long)m * n, nameof(b), "M·N");
        CheckLength(c.Length, (long)k * n, nameof(c), "K·N");
        if (Gemm512.IsSupported)
        {
            GemmKernels.MultiplyTransposeA<Gemm512, Vector512<float>>(a, b, m, n, k, c, accumulate);
        }
        else if (Gemm256.IsSupported)
        {
            GemmKernels.MultiplyTransposeA<Gemm256, Vector256<float>>(a, b, m, n, k, c, accumulate);
        }
        else
        {
            MultiplyTransposeAReference(a, b, m, n, k, c, accumulate);
        }
    }

    /// <summary>Scalar reference of <see cref="MultiplyTransposeA"/>.</summary>
    public static void MultiplyTransposeAReference(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, Span<float> c, bool accumulate)
    {
        for (int p = 0; p < k; p++)
        {
            for (int column = 0; column < n; column++)
            {
                float sum = accumulate ? c[p * n + column] : 0f;
                for (int row = 0; row < m; row++)
                {
                    sum = MathF.FusedMultiplyAdd(a[row * k + p], b[row * n + column], sum);
                }
                c[p * n + column] = sum;
            }
        }
    }

    /// <summary>
    /// c[M, K] = a[M, N] · bᵀ for b[K, N] (or += when <paramref name="accumulate"/>): the input
    /// gradient of a layer whose weights b are [K, N].
    /// </summary>
    /// <remarks>
    /// With <paramref name="accumulate"/>, the finished dot product is added to c[i, p] once.
    /// Every call transposes b into a per-thread buffer (grown to the largest K·N this thread has
    /// seen: the first call on a thread allocates, later calls of the same or smaller size do not)
    /// and runs the <see cref="Multiply"/> tiles on it. That costs about K·N·0.5 ns, small against
    /// 2·M·N·K flops when M is in the hundreds (conv rows), not when M is a few dozen (a dense
    /// layer's slice of the batch): there, transpose the weights once per step and call
    /// <see cref="Multiply"/>(a, bᵀ, M, K, N, c, false), which gives the same bits as this method
    /// with <paramref name="accumulate"/> false.
    /// </remarks>
    public static void MultiplyTransposeB(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, Span<float> c, bool accumulate)
    {
        CheckDimensions(m, n, k);
        CheckLength(a.Length, (long)m * n, nameof(a), "M·N");
        CheckLength(b.Length, (long)k * n, nameof(b), "K·N");
        CheckLength(c.Length, (long)m * k, nameof(c), "M·K");
        if (Gemm512.IsSupported)
        {
            GemmKernels.MultiplyTransposeB<Gemm512, Vector512<float>>(a, b, m, n, k, c, accumulate, TransposedBuffer(k * n));
        }
        else if (Gemm256.IsSupported)
        {
            GemmKernels.MultiplyTransposeB<Gemm256, Vector256<float>>(a, b, m, n, k, c, accumulate, TransposedBuffer(k * n));
        }
        else
        {
            MultiplyTransposeBReference(a, b, m, n, k, c, accumulate);
        }
    }

    /// <summary>Scalar reference of <see cref="MultiplyTransposeB"/>.</summary>
    public static void MultiplyTransposeBReference(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, Span<float> c, bool accumulate)
    {
        for (int row = 0; row < m; row++)
        {
            for (int p = 0; p < k; p++)
            {
                float sum = 0f;
                for (int column = 0; column < n; column++)
                {
                    sum = MathF.FusedMultiplyAdd(a[row * n + column], b[p * n + column], sum);
                }
                c[row * k + p] = accumulate ? c[row * k + p] + sum : sum;
            }
        }
    }

    private static Span<float> TransposedBuffer(int length)
    {
        float[]? buffer = t_transposed;
        if (buffer is null || buffer.Length < length)
        {
            buffer = new float[length];
            t_transposed = buffer;
        }
        return buffer.AsSpan(0, length);
    }

    private static void CheckDimensions(int m, int n, int k)
    {
        if (m < 0 || n < 0 || k < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(m), $"Gemm expects non-negative dimensions; received M={m}, N={n}, K={k}.");
        }
    }

    private static void CheckLength(int length, long required, string name, string formula)
    {
        if (length < required)
        {
            throw new ArgumentException($"Gemm expects {name} to hold at least {formula} = {required} floats; received {length}.", name);
        }
    }
}
