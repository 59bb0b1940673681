using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Benchmarks;

/// <summary>
/// The machine's FP32 fused multiply-add peak as C# reaches it: 12 independent accumulator chains of the
/// widest accelerated vector (Vector512 with AVX-512, else Vector256 with FMA), on each of several
/// threads at once, so that "% of peak" in the profiles is measured on the machine they ran on.
/// <c>dotnet run -c Release --project Engine.Benchmarks -- fma-peak [threads]</c>.
/// </summary>
public static class FmaPeak
{
    private const int Chains = 12;
    private const int Iterations = 20_000_000;

    /// <summary>The name of the vector width measured.</summary>
    public static string Width => Vector512.IsHardwareAccelerated && Avx512F.IsSupported ? "Vector512 (AVX-512)"
        : Fma.IsSupported ? "Vector256 (AVX2 + FMA)" : "none (no FMA)";

    /// <summary>GFLOP/s of <paramref name="threads"/> threads running the FMA chains at once: the best of <paramref name="runs"/> runs.</summary>
    public static double Measure(int threads, int runs = 5)
    {
        if (!Fma.IsSupported)
        {
            return double.NaN;
        }
        double best = 0;
        for (int run = 0; run < runs; run++)
        {
            float sink = 0;
            double seconds = ThreadsTogether.Slowest(threads, _ =>
            {
                float sum = RunChains(Iterations);
                Volatile.Write(ref sink, sum); // keeps the sum alive
            });
            int lanes = Vector512.IsHardwareAccelerated && Avx512F.IsSupported ? 16 : 8;
            double flops = (double)Iterations * Chains * lanes * 2 * threads;
            best = Math.Max(best, flops / seconds / 1e9 + (sink == 42f ? 1e-9 : 0));
        }
        return best;
    }

    /// <summary>Runs <paramref name="iterations"/> rounds of the 12 FMA chains at the widest width and returns their sum.</summary>
    internal static float RunChains(int iterations) =>
        Vector512.IsHardwareAccelerated && Avx512F.IsSupported ? Chains512(iterations, 1.0000001f) : Chains256(iterations, 1.0000001f);

    /// <summary>Prints the peak on 1 and on <paramref name="threads"/> threads.</summary>
    public static void Run(int threads)
    {
        Console.WriteLine($"FP32 FMA peak, {Width}, best of 5 runs of {Iterations:N0} x {Chains} chains:");
        Console.WriteLine($"  1 thread: {Measure(1):F1} GFLOP/s");
        if (threads > 1)
        {
            Console.WriteLine($"  {threads} threads: {Measure(threads):F1} GFLOP/s");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static float Chains256(int iterations, float value)
    {
        Vector256<float> x = Vector256.Create(value), y = Vector256.Create(1f / value);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default;
        Vector256<float> a6 = default, a7 = default, a8 = default, a9 = default, a10 = default, a11 = default;
        for (int i = 0; i < iterations; i++)
        {
            a0 = Fma.MultiplyAdd(x, y, a0); a1 = Fma.MultiplyAdd(x, y, a1); a2 = Fma.MultiplyAdd(x, y, a2);
            a3 = Fma.MultiplyAdd(x, y, a3); a4 = Fma.MultiplyAdd(x, y, a4); a5 = Fma.MultiplyAdd(x, y, a5);
            a6 = Fma.MultiplyAdd(x, y, a6); a7 = Fma.MultiplyAdd(x, y, a7); a8 = Fma.MultiplyAdd(x, y, a8);
            a9 = Fma.MultiplyAdd(x, y, a9); a10 = Fma.MultiplyAdd(x, y, a10); a11 = Fma.MultiplyAdd(x, y, a11);
        }
        return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).ToScalar();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static float Chains512(int iterations, float value)
    {
        Vector512<float> x = Vector512.Create(value), y = Vector512.Create(1f / value);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default;
        Vector512<float> a6 = default, a7 = default, a8 = default, a9 = default, a10 = default, a11 = default;
        for (int i = 0; i < iterations; i++)
        {
            a0 = Avx512F.FusedMultiplyAdd(x, y, a0); a1 = Avx512F.FusedMultiplyAdd(x, y, a1); a2 = Avx512F.FusedMultiplyAdd(x, y, a2);
            a3 = Avx512F.FusedMultiplyAdd(x, y, a3); a4 = Avx512F.FusedMultiplyAdd(x, y, a4); a5 = Avx512F.FusedMultiplyAdd(x, y, a5);
            a6 = Avx512F.FusedMultiplyAdd(x, y, a6); a7 = Avx512F.FusedMultiplyAdd(x, y, a7); a8 = Avx512F.FusedMultiplyAdd(x, y, a8);
            a9 = Avx512F.FusedMultiplyAdd(x, y, a9); a10 = Avx512F.FusedMultiplyAdd(x, y, a10); a11 = Avx512F.FusedMultiplyAdd(x, y, a11);
        }
        return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).ToScalar();
    }
}
