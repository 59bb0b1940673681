using System.Diagnostics;
using System.Numerics.Tensors;

namespace Engine.Kernels;

// Shape legend: M rows of the left operand, N columns of the result, K the reduced dimension.
// All matrices are row-major and dense (row stride = column count).

/// <summary>Matrix products used by Dense and Conv2D (forward, input gradient, weight gradient).</summary>
public static class Gemm
{
    /// <summary>c[M, N] = a[M, K] · b[K, N] (or += when <paramref name="accumulate"/>).</summary>
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, Span<float> c, bool accumulate)
    {
        Debug.Assert(a.Length >= m * k && b.Length >= k * n && c.Length >= m * n);
        for (int row = 0; row < m; row++)
        {
            Span<float> cRow = c.Slice(row * n, n);
            if (!accumulate)
            {
                cRow.Clear();
            }
            ReadOnlySpan<float> aRow = a.Slice(row * k, k);
            for (int p = 0; p < k; p++)
            {
                TensorPrimitives.FusedMultiplyAdd(b.Slice(p * n, n), aRow[p], cRow, cRow);
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
    public static void MultiplyTransposeA(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, Span<float> c, bool accumulate)
    {
        Debug.Assert(a.Length >= m * k && b.Length >= m * n && c.Length >= k * n);
        if (!accumulate)
        {
            c.Slice(0, k * n).Clear();
        }
        for (int row = 0; row < m; row++)
        {
            ReadOnlySpan<float> aRow = a.Slice(row * k, k);
            ReadOnlySpan<float> bRow = b.Slice(row * n, n);
            for (int p = 0; p < k; p++)
            {
                Span<float> cRow = c.Slice(p * n, n);
                TensorPrimitives.FusedMultiplyAdd(bRow, aRow[p], cRow, cRow);
            }
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
    public static void MultiplyTransposeB(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, Span<float> c, bool accumulate)
    {
        Debug.Assert(a.Length >= m * n && b.Length >= k * n && c.Length >= m * k);
        for (int row = 0; row < m; row++)
        {
            ReadOnlySpan<float> aRow = a.Slice(row * n, n);
            for (int p = 0; p < k; p++)
            {
                float dot = TensorPrimitives.Dot(aRow, b.Slice(p * n, n));
                c[row * k + p] = accumulate ? c[row * k + p] + dot : dot;
            }
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
}
