namespace Engine.Optimizers;

/// <summary>Updates parameters from their accumulated gradients.</summary>
public interface IOptimizer
{
    /// <summary>A short name, e.g. <c>adam</c>.</summary>
    string Name { get; }

    /// <summary>The number of steps taken (Keras's <c>iterations</c>); restored from checkpoints.</summary>
    long Iterations { get; set; }

    /// <summary>Allocates the per-parameter state (slots) once; called when the model is compiled.</summary>
    void Initialize(IReadOnlyList<Parameter> parameters);

    /// <summary>
    /// As <see cref="Initialize(IReadOnlyList{Parameter})"/>, with the model's threads, which an optimizer
    /// may use to update parameters in parallel (element-wise updates give the same bits on any thread count).
    /// </summary>
    void Initialize(IReadOnlyList<Parameter> parameters, Workers workers) => Initialize(parameters);

    /// <summary>Applies one update to every parameter from its gradient and increments <see cref="Iterations"/>.</summary>
    void Step(IReadOnlyList<Parameter> parameters);

    /// <summary>The state tensors (e.g. <c>conv2d/kernel/m</c>) in parameter order, for checkpoints.</summary>
    IReadOnlyList<NamedTensor> Slots { get; }
}
