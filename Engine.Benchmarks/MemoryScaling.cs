using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Engine.Benchmarks;

/// <summary>
/// How the machine's caches and memory scale from one thread to two: each thread adds 1 to every float of its own
/// buffer, over and over (a read and a write of every cache line), first alone, then with a second thread doing the
/// same on a buffer of its own, for buffers from L2 size to well past L3. The ratio of the two times per pass is 1.00
/// when the second core costs the first nothing; the FMA chains of <see cref="FmaPeak"/> are the compute-only case.
/// The one-thread sweep also runs pinned to processor 0 and to processor 1 in turn: on a shared host the two can differ
/// (another guest on a core's other hardware thread), and two threads at once go at the pace of the slower.
/// <c>dotnet run -c Release --project Engine.Benchmarks -- memory-scaling [rounds]</c>.
/// </summary>
public static class MemoryScaling
{
    /// <summary>Bytes swept per thread and round, whatever the buffer size (a buffer is swept this over its size times).</summary>
    private const long BytesPerRound = 1L << 31;

    private static readonly long[] Sizes = [256L << 10, 2L << 20, 4L << 20, 8L << 20, 16L << 20, 64L << 20];

    /// <summary>Prints, per buffer size, the median over <paramref name="rounds"/> interleaved rounds of the 2-thread time over the 1-thread time.</summary>
    public static void Run(int rounds)
    {
        Console.WriteLine($"{Environment.ProcessorCount} processors; each thread sweeps its own buffer ({BytesPerRound >> 30} GiB read and written per round); median of {rounds} rounds, 1 thread then 2 at once");
        Console.WriteLine($"FP32 FMA chains (no memory): 1 thread {FmaPeak.Measure(1, 3):F1} GFLOP/s, 2 threads {FmaPeak.Measure(2, 3):F1}");
        Console.WriteLine("buffer per thread   1 thread GB/s   CPU 0 alone   CPU 1 alone   2 threads GB/s (each)   time 2 / time 1");
        foreach (long size in Sizes)
        {
            float[][] buffers = [GC.AllocateUninitializedArray<float>((int)(size / sizeof(float)), pinned: true), GC.AllocateUninitializedArray<float>((int)(size / sizeof(float)), pinned: true)];
            foreach (float[] buffer in buffers)
            {
                buffer.AsSpan().Clear();
            }
            int passes = (int)Math.Max(1, BytesPerRound / size);
            var one = new double[rounds];
            var two = new double[rounds];
            var cpu0 = new double[rounds];
            var cpu1 = new double[rounds];
            Sweep(buffers, 1, 1); // warm-up: pages touched, code compiled
            for (int round = 0; round < rounds; round++)
            {
                one[round] = Sweep(buffers, 1, passes);
                two[round] = Sweep(buffers, 2, passes);
                cpu0[round] = Pinned(0, () => Sweep(buffers, 1, passes));
                cpu1[round] = Pinned(1, () => Sweep(buffers, 1, passes));
            }
            double ratio = Median(two.Zip(one, (a, b) => a / b).ToArray());
            double bytes = (double)size * passes;
            Console.WriteLine($"{Format(size),17}   {bytes / Median(one) / 1e9,14:F1}   {bytes / Median(cpu0) / 1e9,11:F1}   {bytes / Median(cpu1) / 1e9,11:F1}   {bytes / Median(two) / 1e9,22:F1}   {ratio,15:F2}");
        }
    }

    /// <summary>Seconds for <paramref name="threads"/> threads (started together) to sweep their buffers <paramref name="passes"/> times: the slowest thread's.</summary>
    private static double Sweep(float[][] buffers, int threads, int passes) =>
        ThreadsTogether.Slowest(threads, index =>
        {
            for (int pass = 0; pass < passes; pass++)
            {
                AddOne(buffers[index]);
            }
        });

    /// <summary>Adds 1 to every float of <paramref name="buffer"/>: one read and one write of each of its cache lines.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    internal static void AddOne(float[] buffer)
    {
        Span<Vector256<float>> vectors = MemoryMarshal.Cast<float, Vector256<float>>(buffer.AsSpan());
        Vector256<float> one = Vector256<float>.One;
        for (int i = 0; i < vectors.Length; i++)
        {
            vectors[i] += one;
        }
    }

    /// <summary><paramref name="sweep"/> with the process pinned to processor <paramref name="processor"/> (NaN where the processor or pinning is unavailable).</summary>
    private static double Pinned(int processor, Func<double> sweep)
    {
        if (processor >= Environment.ProcessorCount || !(OperatingSystem.IsLinux() || OperatingSystem.IsWindows()))
        {
            return double.NaN;
        }
        using var process = Process.GetCurrentProcess();
        nint all = process.ProcessorAffinity;
        process.ProcessorAffinity = (nint)1 << processor;
        try
        {
            return sweep();
        }
        finally
        {
            process.ProcessorAffinity = all;
        }
    }

    private static double Median(double[] values)
    {
        double[] sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }

    private static string Format(long bytes) => bytes >= 1 << 20 ? $"{bytes >> 20} MiB" : $"{bytes >> 10} KiB";
}
