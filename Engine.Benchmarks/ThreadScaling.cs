using System.Globalization;

namespace Engine.Benchmarks;

/// <summary>
/// How each stage of the training step scales from one thread count to another, measured so that the host's
/// changing speed cancels: two copies of the reference model (the same weights), one per thread count, take
/// training steps in turn on the same batch, every stage timed as in <see cref="StepProfile"/>; each stage's
/// ratio is taken step pair by step pair (the pair's two steps run a few tens of milliseconds apart), and its
/// median and quartiles printed. The two models must end with the same weights bit for bit (the engine's
/// determinism across thread counts); the command says whether they did.
/// <c>dotnet run -c Release --project Engine.Benchmarks -- thread-scaling [steps] [threads] [threads]</c>.
/// </summary>
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
        }

        Console.WriteLine($"Reference model, batch 100, {few} thread(s) against {many}, {steps} step pairs (ms: medians); {Environment.ProcessorCount} processors");
        Console.WriteLine($"{"operation",-36} {few + " thr",9} {many + " thr",9} {"speed-up",9} {"q1",6} {"q3",6}");
        foreach (var (a, b) in slowTimes.Rows().Zip(fastTimes.Rows()))
        {
            var ratios = new double[steps];
            for (int i = 0; i < steps; i++)
            {
                ratios[i] = a.Times[i] / b.Times[i];
            }
            Array.Sort(ratios);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{a.Name,-36} {StepProfile.Median(a.Times),9:F3} {StepProfile.Median(b.Times),9:F3} {ratios[steps / 2],9:F2} {ratios[steps / 4],6:F2} {ratios[3 * steps / 4],6:F2}"));
        }
        Console.WriteLine("speed-up: the step pairs' median of (time on " + few + ") / (time on " + many + "); q1 and q3 its quartiles.");
        bool same = slow.Parameters.Zip(fast.Parameters).All(pair => pair.First.Value.ReadOnlySpan.SequenceEqual(pair.Second.Value.ReadOnlySpan));
        Console.WriteLine(same
            ? $"The two models' weights are bit-identical after {steps + 10} steps each."
            : $"The two models' weights DIFFER after {steps + 10} steps each: the engine is not deterministic across thread counts.");
    }
}
