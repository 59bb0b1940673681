using System.Numerics.Tensors;

namespace Engine.Optimizers;

/// <summary>
/// Stochastic gradient descent as Keras: without momentum w -= lr·g; with momentum
/// velocity = momentum·velocity - lr·g, w += velocity.
/// </summary>
public sealed class Sgd : IOptimizer
{
    private Tensor[] _velocity = [];
    private NamedTensor[] _slots = [];

    /// <summary>Creates SGD (Keras defaults: lr 0.01, momentum 0).</summary>
    public Sgd(double learningRate = 0.01, double momentum = 0)
    {
        if (!(learningRate > 0) || !double.IsFinite(learningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(learningRate), $"Sgd expects a finite learning rate > 0; received {learningRate}.");
        }
        if (!(momentum >= 0 && momentum < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(momentum), $"Sgd expects 0 <= momentum < 1; received {momentum}.");
        }
        LearningRate = learningRate;
        Momentum = momentum;
    }

    /// <summary>lr.</summary>
    public double LearningRate { get; }

    /// <summary>The momentum (0: plain SGD).</summary>
    public double Momentum { get; }

    /// <inheritdoc />
    public string Name => "sgd";

    /// <inheritdoc />
    public long Iterations { get; set; }

    /// <inheritdoc />
    public IReadOnlyList<NamedTensor> Slots => _slots;

    /// <inheritdoc />
    public void Initialize(IReadOnlyList<Parameter> parameters)
    {
        _velocity = Momentum > 0 ? parameters.Select(p => new Tensor(p.Value.Shape)).ToArray() : [];
        _slots = _velocity.Select((v, index) => new NamedTensor(parameters[index].Name + "/momentum", v)).ToArray();
        Iterations = 0;
    }

    /// <inheritdoc />
    public void Step(IReadOnlyList<Parameter> parameters)
    {
        if (Momentum > 0 && parameters.Count != _velocity.Length)
        {
            throw new InvalidOperationException(
                $"Sgd was initialized for {_velocity.Length} parameters; received {parameters.Count}. Call Initialize with the model's parameters first.");
        }
        for (int index = 0; index < parameters.Count; index++)
        {
            Span<float> value = parameters[index].Value.Span;
            ReadOnlySpan<float> gradient = parameters[index].Gradient.ReadOnlySpan;
            if (Momentum > 0)
            {
                Span<float> velocity = _velocity[index].Span;
                TensorPrimitives.Multiply(velocity, (float)Momentum, velocity);
                TensorPrimitives.MultiplyAdd(gradient, -(float)LearningRate, velocity, velocity);
                TensorPrimitives.Add(value, velocity, value);
            }
            else
            {
                TensorPrimitives.MultiplyAdd(gradient, -(float)LearningRate, value, value);
            }
        }
        Iterations++;
    }
}
