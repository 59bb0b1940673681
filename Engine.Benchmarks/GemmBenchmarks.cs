using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;
using System.Runtime.InteropServices;
using Engine.Kernels;

namespace Engine.Benchmarks;

// Shape legend: M rows of the left operand, N columns of the result, K the reduced dimension.

/// <summary>A GEMM shape of the reference model at batch 100 (PERFORMANCE.md), shown as name MxNxK.</summary>
public sealed record GemmShape(string Name, int M, int N, int K)
{
    /// <summary>Floating-point operations of one product: 2·M·N·K.</summary>
    public double Flops => 2.0 * M * N * K;

    /// <inheritdoc />
    public override string ToString() => $"{Name} {M}x{N}x{K}";
}

/// <summary>
/// The three products of <see cref="Gemm"/> on one thread for the model's large GEMMs:
/// Multiply c[M,N] = a[M,K]·b[K,N] (forward), MultiplyTransposeA c[K,N] = aᵀ·b (weight gradient,
/// a[M,K], b[M,N]), MultiplyTransposeB c[M,K] = a·bᵀ (input gradient, a[M,N], b[K,N]).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(GemmBenchmarkConfig))]
[GemmFlops]
public class GemmBenchmarks
{
    private float[] _left = [];          // [M, K]: im2col rows or dense inputs
    private float[] _right = [];         // [K, N]: weights
    private float[] _product = [];       // [M, N]
    private float[] _rows = [];          // [M, N]: dOutput
    private float[] _weightGradient = []; // [K, N]
    private float[] _inputGradient = [];  // [M, K]

    /// <summary>
    /// The shapes: conv1, conv2, conv3 and dense1 at batch 100, then the slices Conv2D hands one
    /// call when it splits a batch of 100 into 8 chunks (2,450 and 612 rows: operands in L2/L3).
    /// </summary>
    public static IEnumerable<GemmShape> Shapes =>
    [
        new("conv1", 78_400, 32, 9),
        new("conv2", 19_600, 64, 288),
        new("conv3", 4_900, 128, 576),
        new("dense1", 100, 256, 2_048),
        new("conv2/8", 2_450, 64, 288),
        new("conv3/8", 612, 128, 576),
    ];

    /// <summary>The shape under test.</summary>
    [ParamsSource(nameof(Shapes))]
    public GemmShape Shape { get; set; } = null!;

    /// <summary>Allocates and fills the operands once.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var (m, n, k) = (Shape.M, Shape.N, Shape.K);
        var random = new Random(1);
        _left = Filled(m * k, random);
        _right = Filled(k * n, random);
        _product = new float[m * n];
        _rows = Filled(m * n, random);
        _weightGradient = new float[k * n];
        _inputGradient = new float[m * k];
        // The first MultiplyTransposeB on a thread sizes its bᵀ buffer; do it outside the measurement.
        Gemm.MultiplyTransposeB(_rows, _right, m, n, k, _inputGradient, accumulate: false);
    }

    /// <summary>Forward: c[M,N] = a[M,K]·b[K,N].</summary>
    [Benchmark]
    public void Multiply() => Gemm.Multiply(_left, _right, Shape.M, Shape.N, Shape.K, _product, accumulate: false);

    /// <summary>Weight gradient: c[K,N] = a[M,K]ᵀ·b[M,N].</summary>
    [Benchmark]
    public void MultiplyTransposeA() => Gemm.MultiplyTransposeA(_left, _rows, Shape.M, Shape.N, Shape.K, _weightGradient, accumulate: false);

    /// <summary>Input gradient: c[M,K] = a[M,N]·b[K,N]ᵀ.</summary>
    [Benchmark]
    public void MultiplyTransposeB() => Gemm.MultiplyTransposeB(_rows, _right, Shape.M, Shape.N, Shape.K, _inputGradient, accumulate: false);

    private static float[] Filled(int length, Random random)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = (float)(random.NextDouble() * 2 - 1);
        }
        return values;
    }
}

/// <summary>The FLOPs of one product: 2·M·N·K of the case's <see cref="GemmBenchmarks.Shape"/>.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class GemmFlopsAttribute : FlopCountAttribute
{
    /// <inheritdoc />
    public override double PerOperation(BenchmarkCase benchmarkCase) =>
        ((GemmShape)benchmarkCase.Parameters[nameof(GemmBenchmarks.Shape)]).Flops;
}

/// <summary>Adds the percent-of-peak column next to GFLOP/s (which <see cref="Program"/> adds to every summary).</summary>
public sealed class GemmBenchmarkConfig : ManualConfig
{
    /// <summary>Single-thread FP32 FMA peak of the team's Zen 5 machines with Vector512 (PERFORMANCE.md).</summary>
    public const double PeakGflops = 226;

    /// <summary>Creates the configuration.</summary>
    public GemmBenchmarkConfig()
    {
        AddColumn(new GflopsColumn(PeakGflops));
    }
}

/// <summary>
/// The same shapes and products timed by the thread's CPU time (Linux), the minimum of many runs:
/// on a shared, loaded machine wall-clock time counts the moments another process holds the core,
/// CPU time does not (it still pays for caches and memory bandwidth shared with that process).
/// Run with <c>dotnet run -c Release --project Engine.Benchmarks -- gemm-cputime [runs]</c>.
/// </summary>
public static class GemmCpuTime
{
    private const int ThreadCpuTimeClock = 3; // CLOCK_THREAD_CPUTIME_ID

    /// <summary>Prints ms, GFLOP/s and % of peak for every shape and product.</summary>
    public static void Run(int runs)
    {
        if (!OperatingSystem.IsLinux())
        {
            Console.WriteLine("gemm-cputime reads CLOCK_THREAD_CPUTIME_ID and runs on Linux only.");
            return;
        }
        Console.WriteLine($"{"shape",-24} {"product",-20} {"min ms",8} {"GFLOP/s",8} {"% of peak",9}");
        foreach (GemmShape shape in GemmBenchmarks.Shapes)
        {
            var benchmarks = new GemmBenchmarks { Shape = shape };
            benchmarks.Setup();
            Report(shape, "Multiply", benchmarks.Multiply, runs);
            Report(shape, "MultiplyTransposeA", benchmarks.MultiplyTransposeA, runs);
            Report(shape, "MultiplyTransposeB", benchmarks.MultiplyTransposeB, runs);
        }
    }

    private static void Report(GemmShape shape, string product, Action body, int runs)
    {
        for (int warmup = 0; warmup < 5; warmup++)
        {
            body();
        }
        double best = double.MaxValue;
        for (int run = 0; run < runs; run++)
        {
            double start = ThreadMilliseconds();
            body();
            best = Math.Min(best, ThreadMilliseconds() - start);
        }
        double gflops = shape.Flops / best / 1e6;
        Console.WriteLine($"{shape,-24} {product,-20} {best,8:F3} {gflops,8:F1} {100 * gflops / GemmBenchmarkConfig.PeakGflops,8:F1}%");
    }

    private static double ThreadMilliseconds()
    {
        ClockGetTime(ThreadCpuTimeClock, out TimeSpec time);
        return time.Seconds * 1e3 + time.Nanoseconds / 1e6;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);
}
