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
        Sequential model = Model(threads);
        var (images, labels) = Batch100();
        var times = new StageTimes(model, steps);
        for (int step = -10; step < steps; step++)
        {
            times.TimedStep(images, labels, step);
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
        foreach (StageTimes.Row row in times.Rows())
        {
            if (row.IsWholeStep)
            {
                Print("sum of medians", total, 0);
            }
            double median = Median(row.Times);
            total += median;
            Print(row.Name, median, row.Flops, row.Times.Min());
        }
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

    /// <summary>The reference model built for <paramref name="threads"/> workers, compiled with Adam (seed 1: the same weights for any thread count).</summary>
    internal static Sequential Model(int threads)
    {
        var model = ReferenceModels.MnistCnn();
        model.Build(ReferenceModels.MnistInput, new ModelOptions(BatchSize: Batch, Seed: 1, Threads: threads));
        model.Compile(new Adam());
        return model;
    }

    /// <summary>A batch of 100 random images and one-hot labels (seed 7).</summary>
    internal static (Tensor Images, Tensor Labels) Batch100()
    {
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
        return (images, labels);
    }

    /// <summary>
    /// A stopwatch around each stage of one model's training step, step after step: each conv with its pool
    /// (one parallel region, as the model runs them), the other layers, the loss, the optimizer, the whole step.
    /// </summary>
    internal sealed class StageTimes
    {
        private readonly Sequential _model;
        private readonly IReadOnlyList<ILayer> _layers;
        private readonly SoftmaxCrossEntropy _loss = new(Batch, 10);
        private readonly double[,] _forward;
        private readonly double[,] _backward;
        private readonly double[] _lossTimes;
        private readonly double[] _optimizerTimes;
        private readonly double[] _stepTimes;

        /// <summary>Room for <paramref name="steps"/> timed steps of <paramref name="model"/>.</summary>
        public StageTimes(Sequential model, int steps)
        {
            _model = model;
            _layers = model.Layers;
            _forward = new double[_layers.Count, steps];
            _backward = new double[_layers.Count, steps];
            _lossTimes = new double[steps];
            _optimizerTimes = new double[steps];
            _stepTimes = new double[steps];
        }

        /// <summary>One stage's name, direct-convolution FLOPs and time per step (ms); whether it is a conv's (with its pool).</summary>
        public sealed record Row(string Name, double Flops, double[] Times, bool IsWholeStep = false, bool IsConv = false);

        /// <summary>One training step on the batch; its times are kept when <paramref name="step"/> ≥ 0 (negative: warm-up).</summary>
        public void TimedStep(Tensor images, Tensor labels, int step)
        {
            long stepStart = Stopwatch.GetTimestamp();
            _model.ZeroGrad();
            Tensor activation = images;
            for (int l = 0; l < _layers.Count; l++)
            {
                long t = Stopwatch.GetTimestamp();
                if (_model.RunsWithNext(l))
                {
                    activation = ((Conv2D)_layers[l]).ForwardThroughPool(activation, training: true, (MaxPool2D)_layers[l + 1]);
                    Record(_forward, l, step, t);
                    l++;
                    continue;
                }
                activation = _layers[l].Forward(activation, training: true);
                Record(_forward, l, step, t);
            }
            long lt = Stopwatch.GetTimestamp();
            _loss.Forward(activation, labels);
            Tensor gradient = _loss.Backward();
            if (step >= 0)
            {
                _lossTimes[step] = Elapsed(lt);
            }
            for (int l = _layers.Count - 1; l >= 0; l--)
            {
                long t = Stopwatch.GetTimestamp();
                if (l > 0 && _model.RunsWithNext(l - 1))
                {
                    gradient = ((Conv2D)_layers[l - 1]).BackwardThroughPool((MaxPool2D)_layers[l], gradient);
                    Record(_backward, l - 1, step, t);
                    l--;
                    continue;
                }
                gradient = _layers[l].Backward(gradient);
                Record(_backward, l, step, t);
            }
            long ot = Stopwatch.GetTimestamp();
            _model.Optimizer.Step(_model.Parameters);
            if (step >= 0)
            {
                _optimizerTimes[step] = Elapsed(ot);
                _stepTimes[step] = Elapsed(stepStart);
            }
        }

        /// <summary>The stages in the order they run, then the whole step.</summary>
        public IEnumerable<Row> Rows()
        {
            for (int l = 0; l < _layers.Count; l++)
            {
                yield return new Row($"{StageName(_model, l)} forward", ForwardFlops(_layers[l]), Column(_forward, l), IsConv: _layers[l] is Conv2D);
                l += _model.RunsWithNext(l) ? 1 : 0;
            }
            yield return new Row("loss forward+backward", 0, _lossTimes);
            for (int l = _layers.Count - 1; l >= 0; l--)
            {
                l -= l > 0 && _model.RunsWithNext(l - 1) ? 1 : 0;
                yield return new Row($"{StageName(_model, l)} backward", ForwardFlops(_layers[l]) * (l == 0 ? 1 : 2), Column(_backward, l),
                    IsConv: _layers[l] is Conv2D);
            }
            yield return new Row("adam", 0, _optimizerTimes);
            yield return new Row("timed step", 0, _stepTimes, IsWholeStep: true);
        }

        private static double[] Column(double[,] times, int layer)
        {
            var column = new double[times.GetLength(1)];
            for (int i = 0; i < column.Length; i++)
            {
                column[i] = times[layer, i];
            }
            return column;
        }

        private static void Record(double[,] times, int layer, int step, long start)
        {
            if (step >= 0)
            {
                times[layer, step] = Elapsed(start);
            }
        }
    }

    /// <summary>The layer's name, or "conv + pool" for a conv that runs its pool in its own parallel region.</summary>
    private static string StageName(Sequential model, int layer) =>
        model.RunsWithNext(layer) ? $"{model.Layers[layer].Name} + {model.Layers[layer + 1].KindName}" : model.Layers[layer].Name;

    internal static double Elapsed(long start) => Stopwatch.GetElapsedTime(start).TotalMilliseconds;

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

    internal static double Median(double[] values)
    {
        var sorted = (double[])values.Clone();
        Array.Sort(sorted);
        return sorted[sorted.Length / 2];
    }
}
