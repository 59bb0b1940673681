using System.Numerics.Tensors;

namespace Engine.Layers;

/// <summary>
/// Inverted dropout: in training each unit is kept with probability 1 - rate and scaled by
/// 1 / (1 - rate); at inference it is the identity. Masks come from the model's training random source.
/// </summary>
public sealed class Dropout : Layer
{
    private RandomSource? _random;
    private Tensor? _mask;    // same shape as the input: 0 or 1 / (1 - rate)
    private Tensor? _output;  // same shape as the input
    private Tensor? _dInput;  // same shape as the input
    private bool _lastTraining;

    /// <summary>Creates a dropout layer with 0 ≤ <paramref name="rate"/> &lt; 1.</summary>
    public Dropout(double rate)
    {
        if (!(rate >= 0 && rate < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(rate), $"Dropout expects 0 <= rate < 1; received rate={rate}.");
        }
        Rate = rate;
    }

    /// <summary>The fraction of units dropped in training.</summary>
    public double Rate { get; }

    /// <inheritdoc />
    public override string KindName => "dropout";

    /// <inheritdoc />
    protected override Shape OnBuild(Shape inputShape, LayerContext context)
    {
        _random = context.TrainingRandom;
        _mask = new Tensor(inputShape);
        _output = new Tensor(inputShape);
        _dInput = new Tensor(inputShape);
        return inputShape;
    }

    /// <inheritdoc />
    protected override Tensor OnForward(Tensor input, bool training)
    {
        _lastTraining = training && Rate > 0;
        if (!_lastTraining)
        {
            return input;
        }
        int count = input.Shape[0];
        Span<float> mask = _mask!.Span.Slice(0, input.Length);
        float keepScale = (float)(1.0 / (1.0 - Rate));
        _random!.FillDropoutMask(mask, Rate, keepScale);
        Tensor output = count == MaxBatch ? _output! : _output!.SliceBatch(0, count);
        TensorPrimitives.Multiply(input.ReadOnlySpan, mask, output.Span);
        return output;
    }

    /// <inheritdoc />
    protected override Tensor OnBackward(Tensor dOutput)
    {
        if (!_lastTraining)
        {
            return dOutput;
        }
        int count = LastBatch;
        Tensor dInput = count == MaxBatch ? _dInput! : _dInput!.SliceBatch(0, count);
        TensorPrimitives.Multiply(dOutput.ReadOnlySpan, _mask!.ReadOnlySpan.Slice(0, dOutput.Length), dInput.Span);
        return dInput;
    }
}
