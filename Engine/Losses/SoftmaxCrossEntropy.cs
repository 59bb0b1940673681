using System.Diagnostics;
using System.Numerics.Tensors;

namespace Engine.Losses;

// Shape legend: N batch, K classes.

/// <summary>
/// Softmax cross-entropy with logits, as TensorFlow computes it on shifted logits:
/// s = logits - max, loss_n = Σ_k t_k (log Σ exp(s) - s_k), batch loss = Σ loss_n / N,
/// dLogits = (softmax - targets) / N. Stable for logits of ±1000.
/// </summary>
public sealed class SoftmaxCrossEntropy
{
    private readonly Tensor _softmax;        // [N, K]
    private readonly Tensor _targets;        // [N, K] copy of the last targets
    private readonly Tensor _dLogits;        // [N, K]
    private readonly float[] _perExample;    // [N]
    private int _lastBatch;

    /// <summary>Creates the loss for batches of at most <paramref name="maxBatch"/> rows of <paramref name="classes"/> logits.</summary>
    public SoftmaxCrossEntropy(int maxBatch, int classes)
    {
        if (maxBatch < 1 || classes < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxBatch),
                $"SoftmaxCrossEntropy expects a batch and a class count of at least 1; received batch={maxBatch}, classes={classes}.");
        }
        Classes = classes;
        MaxBatch = maxBatch;
        _softmax = new Tensor(maxBatch, classes);
        _targets = new Tensor(maxBatch, classes);
        _dLogits = new Tensor(maxBatch, classes);
        _perExample = new float[maxBatch];
    }

    /// <summary>K.</summary>
    public int Classes { get; }

    /// <summary>The largest batch accepted.</summary>
    public int MaxBatch { get; }

    /// <summary>The softmax of the last Forward: [N, K] for that batch.</summary>
    public ReadOnlySpan<float> Softmax => _softmax.ReadOnlySpan.Slice(0, _lastBatch * Classes);

    /// <summary>The per-example losses of the last Forward: [N].</summary>
    public ReadOnlySpan<float> PerExampleLoss => _perExample.AsSpan(0, _lastBatch);

    /// <summary>The mean loss over the batch; keeps the softmax and targets for <see cref="Backward"/>.</summary>
    public float Forward(Tensor logits, Tensor targets)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(targets);
        if (logits.Shape.Rank != 2 || logits.Shape[1] != Classes)
        {
            throw new ArgumentException(
                $"SoftmaxCrossEntropy expects logits of shape [N, {Classes}]; received {logits.Shape}.", nameof(logits));
        }
        if (targets.Shape != logits.Shape)
        {
            throw new ArgumentException(
                $"SoftmaxCrossEntropy expects targets of the logits' shape {logits.Shape}; received {targets.Shape}.", nameof(targets));
        }
        int count = logits.Shape[0];
        if (count > MaxBatch)
        {
            throw new ArgumentException(
                $"SoftmaxCrossEntropy was created for batches of at most {MaxBatch}; received a batch of {count}.", nameof(logits));
        }
        targets.ReadOnlySpan.CopyTo(_targets.Span);
        Compute(logits.ReadOnlySpan, targets.ReadOnlySpan, count, Classes, _softmax.Span, _perExample);
        _lastBatch = count;
        float sum = 0f;
        for (int n = 0; n < count; n++)
        {
            sum += _perExample[n];
        }
        return sum / count;
    }

    /// <summary>d loss / d logits = (softmax - targets) / N for the last Forward.</summary>
    public Tensor Backward()
    {
        if (_lastBatch == 0)
        {
            throw new InvalidOperationException("SoftmaxCrossEntropy.Backward was called before Forward; expected a Forward first.");
        }
        int length = _lastBatch * Classes;
        Span<float> dLogits = _dLogits.Span.Slice(0, length);
        TensorPrimitives.Subtract(_softmax.ReadOnlySpan.Slice(0, length), _targets.ReadOnlySpan.Slice(0, length), dLogits);
        TensorPrimitives.Divide(dLogits, _lastBatch, dLogits);
        return _lastBatch == MaxBatch ? _dLogits : _dLogits.SliceBatch(0, _lastBatch);
    }

    /// <summary>The number of rows whose largest logit (first on ties) is the largest target.</summary>
    public static int CountCorrect(ReadOnlySpan<float> logits, ReadOnlySpan<float> targets, int count, int classes)
    {
        int correct = 0;
        for (int n = 0; n < count; n++)
        {
            if (TensorPrimitives.IndexOfMax(logits.Slice(n * classes, classes)) == TensorPrimitives.IndexOfMax(targets.Slice(n * classes, classes)))
            {
                correct++;
            }
        }
        return correct;
    }

    /// <summary>softmax[N, K] and perExample[N] from logits[N, K] and targets[N, K].</summary>
    public static void Compute(ReadOnlySpan<float> logits, ReadOnlySpan<float> targets, int count, int classes,
        Span<float> softmax, Span<float> perExample)
    {
        Debug.Assert(logits.Length >= count * classes && softmax.Length >= count * classes);
        for (int n = 0; n < count; n++)
        {
            ReadOnlySpan<float> row = logits.Slice(n * classes, classes);
            ReadOnlySpan<float> target = targets.Slice(n * classes, classes);
            Span<float> probabilities = softmax.Slice(n * classes, classes);
            float max = TensorPrimitives.Max(row);
            float sumExp = 0f;
            for (int k = 0; k < classes; k++)
            {
                float e = MathF.Exp(row[k] - max);
                probabilities[k] = e;
                sumExp += e;
            }
            float logSumExp = MathF.Log(sumExp);
            float loss = 0f;
            for (int k = 0; k < classes; k++)
            {
                probabilities[k] /= sumExp;
                if (target[k] != 0f)
                {
                    loss += target[k] * (logSumExp - (row[k] - max));
                }
            }
            perExample[n] = loss;
        }
    }
}
