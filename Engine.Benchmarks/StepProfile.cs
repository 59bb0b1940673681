using System.Diagnostics;
using System.Globalization;
using Engine.Layers;
using Engine.Losses;
using Engine.Optimizers;

namespace Engine.Benchmarks;

/// <summary>
/// Times every operation of the reference model's training step as the model runs it (each layer's
/// forward and backward, a conv and its pool as one stage, the loss, the optimizer) and inference at batch 100 with a stopwatch around each
/// call, and prints the median per operation with its GFLOP/s and its share of the FMA peak measured
/// just before (<see cref="FmaPeak"/>). Wall clock: run it on a quiet machine.
/// <c>dotnet run -c Release --project Engine.Benchmarks -- step-profile [steps] [threads]</c>.
/// </summary>
public static class StepProfile
{
    private const int Batch = 100;

    /// <summary>Runs <paramref name="steps"/> timed steps after warm-up with <paramref name="threads"/> workers.</summary>
    public static void Run(int steps, int threads)
    {
        var model = ReferenceModels.MnistCnn();
        model.Build(ReferenceModels.MnistInput, new ModelOptions(BatchSize: Batch, Seed: 1, Threads: threads));
        model.Compile(new Adam());
        var random = new RandomSource(7);
        var images = new Tensor(Batch, 28, 28, 1);
        for (int i = 0; i < images.Length; i++)
        {
            images.Span[i] = random.NextSingle();
        }
        var labels = new Tensor(Batch, 10);
        for (int n = 0; n < Batch; n++)
        {
            labels[n, n % 10] = 1f;
        }
        var loss = new SoftmaxCrossEntropy(Batch, 10);
        IReadOnlyList<ILayer> layers = model.Layers;
        int count = layers.Count;
        var forward = new double[count, steps];
        var backward = new double[count, steps];
        var lossTimes = new double[steps];
        var optimizerTimes = new double[steps];
        var stepTimes = new double[steps];

        for (int step = -10; step < steps; step++)
        {
            long stepStart = Stopwatch.GetTimestamp();
            model.ZeroGrad();
            Tensor activation = images;
            for (int l = 0; l < count; l++)
            {
                long t = Stopwatch.GetTimestamp();
                if (model.RunsWithNext(l))
                {
                    // As the model runs them: the conv and its pool in one parallel region.
                    activation = ((Conv2D)layers[l]).ForwardThroughPool(activation, training: true, (MaxPool2D)layers[l + 1]);
                    Record(forward, l, step, t);
                    l++;
                    continue;
                }
                activation = layers[l].Forward(activation, training: true);
                Record(forward, l, step, t);
            }
            long lt = Stopwatch.GetTimestamp();
            loss.Forward(activation, labels);
            Tensor gradient = loss.Backward();
            if (step >= 0)
            {
                lossTimes[step] = Elapsed(lt);
            }
            for (int l = count - 1; l >= 0; l--)
            {
                long t = Stopwatch.GetTimestamp();
                if (l > 0 && model.RunsWithNext(l - 1))
                {
                    gradient = ((Conv2D)layers[l - 1]).BackwardThroughPool((MaxPool2D)layers[l], gradient);
                    Record(backward, l - 1, step, t);
                    l--;
                    continue;
                }
                gradient = layers[l].Backward(gradient);
                Record(backward, l, step, t);
            }
            long ot = Stopwatch.GetTimestamp();
            model.Optimizer.Step(model.Parameters);
            if (step >= 0)
            {
                optimizerTimes[step] = Elapsed(ot);
                stepTimes[step] = Elapsed(stepStart);
            }
        }

        // The model's own step and inference, untimed inside (the check that the stages above add up).
        var modelSteps = new double[steps];
        var modelInference = new double[steps];
        for (int step = -10; step < steps; step++)
        {
            long start = Stopwatch.GetTimestamp();
            model.ComputeGradients(images, labels);
            model.Optimizer.Step(model.Parameters);
            long inferenceStart = Stopwatch.GetTimestamp();
            model.Forward(images, training: false);
            if (step >= 0)
            {
                modelSteps[step] = Stopwatch.GetElapsedTime(start, inferenceStart).TotalMilliseconds;
                modelInference[step] = Elapsed(inferenceStart);
            }
        }

        s_peak = FmaPeak.Measure(threads);
        Console.WriteLine($"Reference model, batch {Batch}, {threads} thread(s), median of {steps} steps (ms); {Environment.ProcessorCount} processors");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"FP32 FMA peak measured now on {threads} thread(s), {FmaPeak.Width}: {s_peak:F1} GFLOP/s"));
        Console.WriteLine($"{"operation",-36} {"ms",8} {"GFLOP/s",8} {"% peak",7} {"min ms",8}");
        double total = 0;
        for (int l = 0; l < count; l++)
        {
            double flops = ForwardFlops(layers[l]);
            double f = Median(forward, l);
            total += f;
            Print($"{StageName(model, l)} forward", f, flops, Min(forward, l));
            l += model.RunsWithNext(l) ? 1 : 0;
        }
        double ls = Median(lossTimes);
        total += ls;
        Print("loss forward+backward", ls, 0);
        for (int l = count - 1; l >= 0; l--)
        {
            l -= l > 0 && model.RunsWithNext(l - 1) ? 1 : 0;
            double flops = ForwardFlops(layers[l]) * (l == 0 ? 1 : 2);
            double b = Median(backward, l);
            total += b;
            Print($"{StageName(model, l)} backward", b, flops, Min(backward, l));
        }
        double opt = Median(optimizerTimes);
        total += opt;
        Print("adam", opt, 0);
        Print("sum of medians", total, 0);
        double stepMs = Median(stepTimes);
        Print("timed step", stepMs, 0, stepTimes.Min());
        double modelStep = Median(modelSteps);
        Print("model training step", modelStep, 0, modelSteps.Min());
        Console.WriteLine($"  => {modelStep * 600 / 1000:F2} s per 60,000-image epoch");
        double inference = Median(modelInference);
        Print("model inference forward", inference, 0, modelInference.Min());
        Console.WriteLine($"  => {Batch / inference * 1000:F0} images/s");
        string[] winograd = model.Layers.Where(layer => layer is Conv2D { UsesWinograd: true }).Select(layer => layer.Name).ToArray();
        if (winograd.Length > 0)
        {
            Console.WriteLine($"GFLOP/s and % peak count a direct convolution's FLOPs. {string.Join(", ", winograd)} run Winograd F(4x4, 3x3):");
            Console.WriteLine("3.06x fewer multiply-adds at 14x14 and at 7x7 (the last tiles are cut), so they can pass 100%.");
        }
    }

    /// <summary>The layer's name, or "conv + pool" for a conv that runs its pool in its own parallel region.</summary>
    private static string StageName(Sequential model, int layer) =>
        model.RunsWithNext(layer) ? $"{model.Layers[layer].Name} + {model.Layers[layer + 1].KindName}" : model.Layers[layer].Name;

    private static void Record(double[,] times, int layer, int step, long start)
    {
        if (step >= 0)
        {
            times[layer, step] = Elapsed(start);
        }
    }

    private static double Elapsed(long start) => Stopwatch.GetElapsedTime(start).TotalMilliseconds;

    private static double ForwardFlops(ILayer layer) => ReferenceModelFlops.Forward(layer);

    /// <summary>The FMA peak measured before printing (GFLOP/s on the profile's threads).</summary>
    private static double s_peak = double.NaN;

    private static void Print(string name, double ms, double flops, double min = double.NaN)
    {
        double gflops = flops / ms / 1e6;
        string rate = flops > 0 ? gflops.ToString("F1", CultureInfo.InvariantCulture) : "";
        string share = flops > 0 && s_peak > 0 ? (100 * gflops / s_peak).ToString("F0", CultureInfo.InvariantCulture) + "%" : "";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name,-36} {ms,8:F3} {rate,8} {share,7} {(double.IsNaN(min) ? "" : min.ToString("F3", CultureInfo.InvariantCulture)),8}"));
    }

    private static double Min(double[,] times, int layer)
    {
        double min = double.MaxValue;
        for (int i = 0; i < times.GetLength(1); i++)
        {
            min = Math.Min(min, times[layer, i]);
        }
        return min;
    }

    private static double Median(double[,] times, int layer)
    {
        var row = new double[times.GetLength(1)];
        for (int i = 0; i < row.Length; i++)
        {
            row[i] = times[layer, i];
        }
        return Median(row);
    }

    private static double Median(double[] values)
    {
        var sorted = (double[])values.Clone();
        Array.Sort(sorted);
        return sorted[sorted.Length / 2];
    }
}
