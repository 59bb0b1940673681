namespace Engine.Layers;

/// <summary>
/// A network layer. <see cref="Build"/> validates the input shape and allocates every buffer for
/// the largest batch; <see cref="Forward"/> keeps what <see cref="Backward"/> needs; Backward
/// accumulates (+=) into the parameters' gradients and returns d loss / d input.
/// </summary>
public interface ILayer
{
    /// <summary>The Keras-style name (e.g. <c>conv2d_1</c>); assigned by the model when built.</summary>
    string Name { get; set; }

    /// <summary>The Keras name stem for this layer type (e.g. <c>conv2d</c>, <c>max_pooling2d</c>).</summary>
    string KindName { get; }

    /// <summary>The shape of the output for the built batch size, valid after Build.</summary>
    Shape OutputShape { get; }

    /// <summary>The trainable parameters (empty for layers without weights).</summary>
    IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>
    /// Validates <paramref name="inputShape"/> (batch first, the largest batch that will be fed),
    /// creates and initializes parameters, allocates buffers and returns the output shape.
    /// </summary>
    Shape Build(Shape inputShape, LayerContext context);

    /// <summary>Computes the output for a batch no larger than the built one.</summary>
    Tensor Forward(Tensor input, bool training);

    /// <summary>Given d loss / d output of the last Forward, accumulates parameter gradients and returns d loss / d input.</summary>
    Tensor Backward(Tensor dOutput);
}
