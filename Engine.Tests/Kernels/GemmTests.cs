using System.Runtime.Intrinsics;
using Engine.Kernels;

namespace Engine.Tests.Kernels;

// Shape legend: M rows of the left operand, N columns of the result, K the reduced dimension.
// Every SIMD product is one chain of fused multiply-adds per element in the reference's order, so
// the comparisons below are bit-exact.

/// <summary>The SIMD products of <see cref="Gemm"/> against their scalar references.</summary>
[TestFixture]
public sealed class GemmTests
{
    /// <summary>A product under test: (a, b, m, n, k, c, accumulate).</summary>
    public delegate void Product(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, Span<float> c, bool accumulate);

    private enum Kind { Multiply, TransposeA, TransposeB }

    private static readonly int[] Depths = [0, 1, 2, 3, 9, 16, 17, 31, 33, 48, 49];
    private static readonly int[] Rows = [1, 2, 5, 6, 7, 11, 12, 13];
    private static readonly float[] Scratch = new float[1024 * 1024];

    /// <summary>Every implementation of every product available on this machine, with its reference.</summary>
    public static IEnumerable<TestCaseData> Implementations()
    {
        yield return Case("Multiply", Kind.Multiply, Gemm.Multiply);
        yield return Case("MultiplyTransposeA", Kind.TransposeA, Gemm.MultiplyTransposeA);
        yield return Case("MultiplyTransposeB", Kind.TransposeB, Gemm.MultiplyTransposeB);
        if (Gemm512.IsSupported)
        {
            yield return Case("Multiply512", Kind.Multiply, GemmKernels.Multiply<Gemm512, Vector512<float>>);
            yield return Case("MultiplyTransposeA512", Kind.TransposeA, GemmKernels.MultiplyTransposeA<Gemm512, Vector512<float>>);
            yield return Case("MultiplyTransposeB512", Kind.TransposeB,
                (a, b, m, n, k, c, accumulate) => GemmKernels.MultiplyTransposeB<Gemm512, Vector512<float>>(a, b, m, n, k, c, accumulate, Scratch));
        }
        if (Gemm256.IsSupported)
        {
            yield return Case("Multiply256", Kind.Multiply, GemmKernels.Multiply<Gemm256, Vector256<float>>);
            yield return Case("MultiplyTransposeA256", Kind.TransposeA, GemmKernels.MultiplyTransposeA<Gemm256, Vector256<float>>);
            yield return Case("MultiplyTransposeB256", Kind.TransposeB,
                (a, b, m, n, k, c, accumulate) => GemmKernels.MultiplyTransposeB<Gemm256, Vector256<float>>(a, b, m, n, k, c, accumulate, Scratch));
        }
    }

    private static TestCaseData Case(string name, Kind kind, Product product) =>
        new TestCaseData(kind, product).SetArgDisplayNames(name);

    [TestCaseSource(nameof(Implementations))]
    public void EqualsReferenceOnEveryTail(object kind, Product product)
    {
        var random = new Random(1);
        foreach (int m in Rows)
        {
            for (int n = 1; n <= 3 * 16 + 1; n++)
            {
                foreach (int k in Depths)
                {
                    AssertEqualsReference((Kind)kind, product, m, n, k, accumulate: (m + n + k) % 2 == 0, random);
                }
            }
        }
    }

    [TestCaseSource(nameof(Implementations))]
    public void EqualsReferenceOnLargeAndModelShapes(object kind, Product product)
    {
        var random = new Random(2);
        // (M, N, K): the model's GEMMs with fewer rows (conv1, conv2, conv3, dense1, dense2), then
        // shapes that cross the depth blocks of Multiply (≤ 192 deep), the row blocks (144 rows)
        // and the depth blocks of MultiplyTransposeA (≤ 64 rows of a), with wide column tails.
        (int M, int N, int K)[] shapes =
        [
            (100, 32, 9), (50, 64, 288), (49, 128, 576), (7, 256, 2048), (10, 10, 256),
            (13, 256 + 16 + 5, 600), (2 * 144 + 37, 64 + 32 + 16 + 9, 14), (30, 133, 77), (150, 70, 200),
        ];
        foreach (var (m, n, k) in shapes)
        {
            AssertEqualsReference((Kind)kind, product, m, n, k, accumulate: false, random);
            AssertEqualsReference((Kind)kind, product, m, n, k, accumulate: true, random);
        }
    }

    [TestCaseSource(nameof(Implementations))]
    public void RowRangesGiveBitIdenticalRows(object kind, Product product)
    {
        // Callers split Multiply and MultiplyTransposeB by rows of a and c: any split must give the same bits.
        if ((Kind)kind == Kind.TransposeA)
        {
            Assert.Pass("MultiplyTransposeA is split by the caller over its reduction, not its output rows.");
        }
        var random = new Random(3);
        foreach (var (m, n, k) in new[] { (29, 64 + 16 + 3, 37), (25, 128, 288), (19, 10, 256) })
        {
            int aColumns = (Kind)kind == Kind.Multiply ? k : n;
            int cColumns = (Kind)kind == Kind.Multiply ? n : k;
            float[] a = RandomArray(m * aColumns, random);
            float[] b = RandomArray(k * n, random);
            float[] whole = new float[m * cColumns];
            product(a, b, m, n, k, whole, accumulate: false);
            foreach (int rangeRows in new[] { 1, 5, 7, 13 })
            {
                float[] split = new float[m * cColumns];
                for (int first = 0; first < m; first += rangeRows)
                {
                    int rows = Math.Min(rangeRows, m - first);
                    product(a.AsSpan(first * aColumns, rows * aColumns), b, rows, n, k, split.AsSpan(first * cColumns, rows * cColumns), accumulate: false);
                }
                AssertBitEqual(whole, split, $"M={m} N={n} K={k} in ranges of {rangeRows} rows");
            }
        }
    }

    [TestCaseSource(nameof(Implementations))]
    public void LeavesFloatsPastTheResultUntouched(object kind, Product product)
    {
        var random = new Random(4);
        const int m = 7, n = 21, k = 5, extra = 37;
        var (aLength, bLength, cLength) = Lengths((Kind)kind, m, n, k);
        float[] a = RandomArray(aLength + extra, random);
        float[] b = RandomArray(bLength + extra, random);
        float[] c = RandomArray(cLength + extra, random);
        float[] expected = (float[])c.Clone();
        Reference((Kind)kind)(a, b, m, n, k, expected, accumulate: true);
        product(a, b, m, n, k, c, accumulate: true);
        AssertBitEqual(expected, c, "with longer spans");
        Assert.That(c.AsSpan(cLength).ToArray(), Is.EqualTo(expected.AsSpan(cLength).ToArray()));
    }

    [Test]
    public void TransposeBEqualsMultiplyByTheTransposedWeights()
    {
        // The documented alternative for callers that reuse b: transpose once, then Multiply.
        var random = new Random(6);
        foreach (var (m, n, k) in new[] { (25, 256, 2048), (13, 10, 256), (7, 37, 29) })
        {
            float[] a = RandomArray(m * n, random), b = RandomArray(k * n, random);
            float[] transposed = new float[n * k];
            for (int p = 0; p < k; p++)
            {
                for (int j = 0; j < n; j++)
                {
                    transposed[j * k + p] = b[p * n + j];
                }
            }
            float[] expected = new float[m * k], actual = new float[m * k];
            Gemm.MultiplyTransposeB(a, b, m, n, k, expected, accumulate: false);
            Gemm.Multiply(a, transposed, m, k, n, actual, accumulate: false);
            AssertBitEqual(expected, actual, $"M={m} N={n} K={k}");
        }
    }

    [Test]
    public void PublicProductsAllocateNothingOnceWarm()
    {
        var random = new Random(5);
        const int m = 24, n = 64, k = 40;
        float[] a = RandomArray(m * k, random), b = RandomArray(k * n, random), c = new float[m * n];
        float[] bTransposeA = RandomArray(m * n, random), cTransposeA = new float[k * n];
        float[] aTransposeB = RandomArray(m * n, random), cTransposeB = new float[m * k];
        void RunAll()
        {
            Gemm.Multiply(a, b, m, n, k, c, accumulate: false);
            Gemm.MultiplyTransposeA(a, bTransposeA, m, n, k, cTransposeA, accumulate: true);
            Gemm.MultiplyTransposeB(aTransposeB, b, m, n, k, cTransposeB, accumulate: false);
        }
        RunAll();
        long before = GC.GetAllocatedBytesForCurrentThread();
        RunAll();
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }

    [Test]
    public void RejectsShortSpansAndNegativeDimensions()
    {
        float[] small = new float[5], large = new float[100];
        var tooShortC = Assert.Throws<ArgumentException>(() => Gemm.Multiply(large, large, 3, 4, 5, small, accumulate: false));
        Assert.That(tooShortC!.Message, Does.Contain("M·N = 12").And.Contain("received 5"));
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposeA(small, large, 3, 4, 5, large, accumulate: false));
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposeB(large, small, 3, 4, 5, large, accumulate: false));
        var negative = Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(large, large, -1, 4, 5, large, accumulate: false));
        Assert.That(negative!.Message, Does.Contain("M=-1"));
    }

    [Test]
    public void EmptyDepthClearsOrKeepsTheResult()
    {
        float[] c = [1f, 2f, 3f, 4f];
        Gemm.Multiply([], [], 2, 2, 0, c, accumulate: true);
        Assert.That(c, Is.EqualTo(new[] { 1f, 2f, 3f, 4f }));
        Gemm.Multiply([], [], 2, 2, 0, c, accumulate: false);
        Assert.That(c, Is.EqualTo(new[] { 0f, 0f, 0f, 0f }));
    }

    private static void AssertEqualsReference(Kind kind, Product product, int m, int n, int k, bool accumulate, Random random)
    {
        var (aLength, bLength, cLength) = Lengths(kind, m, n, k);
        float[] a = RandomArray(aLength, random);
        float[] b = RandomArray(bLength, random);
        float[] actual = RandomArray(cLength, random);
        float[] expected = (float[])actual.Clone();
        Reference(kind)(a, b, m, n, k, expected, accumulate);
        product(a, b, m, n, k, actual, accumulate);
        AssertBitEqual(expected, actual, $"{kind} M={m} N={n} K={k} accumulate={accumulate}");
    }

    private static (int A, int B, int C) Lengths(Kind kind, int m, int n, int k) => kind switch
    {
        Kind.Multiply => (m * k, k * n, m * n),
        Kind.TransposeA => (m * k, m * n, k * n),
        _ => (m * n, k * n, m * k),
    };

    private static Product Reference(Kind kind) => kind switch
    {
        Kind.Multiply => Gemm.MultiplyReference,
        Kind.TransposeA => Gemm.MultiplyTransposeAReference,
        _ => Gemm.MultiplyTransposeBReference,
    };

    [TestCase(100, 256, 2048, 64)]
    [TestCase(7, 75, 33, 16)]
    [TestCase(13, 40, 5, 7)]
    public void ColumnPanelsEqualTheWholeProductBitForBit(int m, int n, int k, int width)
    {
        var random = new Random(m + n + k);
        float[] a = RandomArray(m * k, random), b = RandomArray(k * n, random);
        float[] whole = new float[m * n];
        Gemm.Multiply(a, b, m, n, k, whole, accumulate: false);
        float[] panels = Enumerable.Repeat(float.NaN, m * n).ToArray();
        for (int first = 0; first < n; first += width)
        {
            Gemm.MultiplyColumns(a, b, m, n, k, panels, first, Math.Min(width, n - first));
            if (first == 0)
            {
                // Only the panel's columns are written.
                Assert.That(panels[Math.Min(width, n - 1) == width ? width : 0], width < n ? Is.NaN : Is.Not.NaN);
            }
        }
        Assert.That(panels.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(whole.Select(BitConverter.SingleToInt32Bits)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.MultiplyColumns(a, b, m, n, k, panels, n - 1, 2));
    }

    private static float[] RandomArray(int length, Random random)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = (float)(random.NextDouble() * 2 - 1);
        }
        return values;
    }

    private static void AssertBitEqual(float[] expected, float[] actual, string context)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), context);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
            {
                Assert.Fail($"{context}: element {i} is {actual[i]:R}, expected {expected[i]:R} (bit-exact).");
            }
        }
    }
}
