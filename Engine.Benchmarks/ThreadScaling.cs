using System.Globalization;

namespace Engine.Benchmarks;

/// <summary>
/// How each stage of the training step scales from one thread count to another, measured so that the host's
/// changing speed cancels: two copies of the reference model (the same weights), one per thread count, take
/// training steps in turn on the same batch, every stage timed as in <see cref="StepProfile"/>; each stage's
/// ratio is taken step pair by step pair (the pair's two steps run a few tens of milliseconds apart), and its
/// median and quartiles printed. "conv stages together" is the ratio of the conv stages' summed times (the six
/// conv + pool forwards and backwards), pair by pair. The two models must end with the same weights bit for bit
/// (the engine's determinism across thread counts); the command says whether they did.
/// </summary>
/// <remarks>
/// After each step pair the host itself is measured the same way (<see cref="HostProbe"/>): the FMA chains of
/// <see cref="FmaPeak"/>, and a sweep over a cache-resident buffer of <see cref="MemoryScaling"/>'s kind, each on one
/// thread and then on as many threads as the many-thread model, every thread with the same work. Their speed-ups are
/// what the machine gives code that only computes and code that only moves cached data, at the same moments as the
/// model's steps.
/// <c>dotnet run -c Release --project Engine.Benchmarks -- thread-scaling [steps] [threads] [threads]</c>.
/// </remarks>
public static class ThreadScaling
{
    /// <summary>Runs <paramref name="steps"/> timed step pairs after warm-up: <paramref name="few"/> threads against <paramref name="many"/>.</summary>
    public static void Run(int steps, int few, int many)
    {
        if (steps < 1 || few < 1 || many < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(steps), $"thread-scaling expects steps >= 1 and thread counts >= 1; received {steps}, {few}, {many}.");
        }
        Sequential slow = StepProfile.Model(few), fast = StepProfile.Model(many);
        var (images, labels) = StepProfile.Batch100();
        var slowTimes = new StepProfile.StageTimes(slow, steps);
        var fastTimes = new StepProfile.StageTimes(fast, steps);
        var host = new HostProbe(few, many, steps);
        for (int step = -10; step < steps; step++)
        {
            // Which model goes first alternates, so that neither always finds the other's data in the shared cache.
            if ((step & 1) == 0)
            {
                slowTimes.TimedStep(images, labels, step);
                fastTimes.TimedStep(images, labels, step);
            }
            else
            {
                fastTimes.TimedStep(images, labels, step);
                slowTimes.TimedStep(images, labels, step);
            }
            host.Sample(step);
        }

        Console.WriteLine($"Reference model, batch 100, {few} thread(s) against {many}, {steps} step pairs (ms: medians); {Environment.ProcessorCount} processors");
        Console.WriteLine($"{"operation",-36} {few + " thr",9} {many + " thr",9} {"speed-up",9} {"q1",6} {"q3",6}");
        var slowRows = slowTimes.Rows().ToList();
        var fastRows = fastTimes.Rows().ToList();
        foreach (var (a, b) in slowRows.Zip(fastRows))
        {
            PrintRow(a.Name, a.Times, b.Times, a.Times.Zip(b.Times, (x, y) => x / y).ToArray());
        }
        double[] slowConvs = ConvSums(slowRows, steps), fastConvs = ConvSums(fastRows, steps);
        PrintRow("conv stages together", slowConvs, fastConvs, slowConvs.Zip(fastConvs, (x, y) => x / y).ToArray());
        PrintRow("host: FMA chains", host.FewFma, host.ManyFma, host.FmaSpeedUps);
        PrintRow("host: cache-resident sweep", host.FewSweep, host.ManySweep, host.SweepSpeedUps);
        Console.WriteLine("speed-up: the step pairs' median of (time on " + few + ") / (time on " + many + "); q1 and q3 its quartiles.");
        Console.WriteLine($"host: after each step pair, the FMA chains and a sweep of {HostProbe.SweepBytes >> 10} KiB per thread (read and written {HostProbe.SweepPasses} times), " +
            $"on {few} thread(s) then {many}, each thread with the same work: speed-up = {many}/{few} x (time on {few}) / (time on {many}).");
        bool same = slow.Parameters.Zip(fast.Parameters).All(pair => pair.First.Value.ReadOnlySpan.SequenceEqual(pair.Second.Value.ReadOnlySpan));
        Console.WriteLine(same
            ? $"The two models' weights are bit-identical after {steps + 10} steps each."
            : $"The two models' weights DIFFER after {steps + 10} steps each: the engine is not deterministic across thread counts.");
    }

    /// <summary>Per step, the summed times of the conv stages (forwards and backwards, each with its pool).</summary>
    private static double[] ConvSums(IReadOnlyList<StepProfile.StageTimes.Row> rows, int steps)
    {
        var sums = new double[steps];
        foreach (var row in rows.Where(row => row.IsConv))
        {
            for (int i = 0; i < steps; i++)
            {
                sums[i] += row.Times[i];
            }
        }
        return sums;
    }

    private static void PrintRow(string name, double[] few, double[] many, double[] ratios)
    {
        Array.Sort(ratios);
        int count = ratios.Length;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name,-36} {StepProfile.Median(few),9:F3} {StepProfile.Median(many),9:F3} {ratios[count / 2],9:F2} {ratios[count / 4],6:F2} {ratios[3 * count / 4],6:F2}"));
    }

    /// <summary>
    /// The host's own speed-up from <c>few</c> threads to <c>many</c> at one moment: the FMA chains (compute only) and a
    /// sweep of a buffer that stays in each core's L2 (cached data only), each timed on few threads started together and
    /// then on many, every thread doing the same work, so that perfect scaling takes the same time and gives many/few.
    /// </summary>
    private sealed class HostProbe
    {
        /// <summary>Bytes of each thread's buffer: a quarter of a Zen 5 core's 1 MB L2.</summary>
        public const int SweepBytes = 256 << 10;

        /// <summary>Passes over the buffer per sample: 32 MB read and written, a few tenths of a millisecond.</summary>
        public const int SweepPasses = 128;

        /// <summary>Iterations of the 12 FMA chains per sample: a few tenths of a millisecond.</summary>
        private const int FmaIterations = 200_000;

        private readonly int _few;
        private readonly int _many;
        private readonly float[][] _buffers;

        public HostProbe(int few, int many, int steps)
        {
            _few = few;
            _many = many;
            _buffers = new float[Math.Max(few, many)][];
            for (int t = 0; t < _buffers.Length; t++)
            {
                _buffers[t] = GC.AllocateArray<float>(SweepBytes / sizeof(float), pinned: true);
            }
            FewFma = new double[steps];
            ManyFma = new double[steps];
            FewSweep = new double[steps];
            ManySweep = new double[steps];
        }

        public double[] FewFma { get; }

        public double[] ManyFma { get; }

        public double[] FewSweep { get; }

        public double[] ManySweep { get; }

        /// <summary>Per sample, many/few x (FMA time on few) / (FMA time on many).</summary>
        public double[] FmaSpeedUps => SpeedUps(FewFma, ManyFma);

        /// <summary>Per sample, many/few x (sweep time on few) / (sweep time on many).</summary>
        public double[] SweepSpeedUps => SpeedUps(FewSweep, ManySweep);

        /// <summary>Times (ms) the probes on few threads and then on many; kept when <paramref name="step"/> ≥ 0 (negative: warm-up).</summary>
        public void Sample(int step)
        {
            double fewFma = Fma(_few), manyFma = Fma(_many);
            double fewSweep = Sweep(_few), manySweep = Sweep(_many);
            if (step >= 0)
            {
                (FewFma[step], ManyFma[step], FewSweep[step], ManySweep[step]) = (fewFma, manyFma, fewSweep, manySweep);
            }
        }

        private double[] SpeedUps(double[] few, double[] many) => few.Zip(many, (a, b) => (double)_many / _few * a / b).ToArray();

        private static double Fma(int threads)
        {
            float sink = 0;
            double seconds = ThreadsTogether.Slowest(threads, _ => Volatile.Write(ref sink, FmaPeak.RunChains(FmaIterations)));
            return seconds * 1e3 + (sink == 42f ? 1e-12 : 0); // the sum is read, so the chains run
        }

        private double Sweep(int threads) =>
            ThreadsTogether.Slowest(threads, index =>
            {
                for (int pass = 0; pass < SweepPasses; pass++)
                {
                    MemoryScaling.AddOne(_buffers[index]);
                }
            }) * 1e3;
    }
}
