namespace Engine.Layers;

/// <summary>Flattens [N, H, W, C] (or any rank ≥ 2) to [N, H·W·C] in row-major order, as Keras channels_last; a view, no copy.</summary>
public sealed class Flatten : Layer
{
    /// <inheritdoc />
    public override string KindName => "flatten";

    /// <inheritdoc />
    protected override Shape OnBuild(Shape inputShape, LayerContext context)
    {
        if (inputShape.Rank < 2)
        {
            throw new ArgumentException($"{Describe()} expects input of rank 2 or more [N, ...]; received shape {inputShape}.");
        }
        return new Shape(inputShape[0], inputShape.Size / inputShape[0]);
    }

    /// <inheritdoc />
    protected override Tensor OnForward(Tensor input, bool training) =>
        input.Reshape(new Shape(input.Shape[0], OutputShape[1]));

    /// <inheritdoc />
    protected override Tensor OnBackward(Tensor dOutput) => dOutput.Reshape(InputShape.WithBatch(LastBatch));
}
