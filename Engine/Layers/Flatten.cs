namespace Engine.Layers;

/// <summary>Flattens [N, H, W, C] (or any rank ≥ 2) to [N, H·W·C] in row-major order, as Keras channels_last; a view, no copy.</summary>
public sealed class Flatten : Layer
{
    private ViewCache _forward;
    private ViewCache _backward;

    /// <inheritdoc />
    public override string KindName => "flatten";

    /// <inheritdoc />
    protected override Shape OnBuild(Shape inputShape, LayerContext context)
    {
        if (inputShape.Rank < 2)
        {
            throw new ArgumentException($"{Describe()} expects input of rank 2 or more [N, ...]; received shape {inputShape}.");
        }
        _forward = default;
        _backward = default;
        return new Shape(inputShape[0], inputShape.Size / inputShape[0]);
    }

    /// <inheritdoc />
    protected override Tensor OnForward(Tensor input, bool training) => _forward.View(input, OutputShape);

    /// <inheritdoc />
    protected override Tensor OnBackward(Tensor dOutput) => _backward.View(dOutput, InputShape);

    /// <summary>Remembers the last reshaped view, so a step that feeds the same buffer again allocates nothing.</summary>
    private struct ViewCache
    {
        private Tensor? _source;
        private Tensor? _view;

        /// <summary>The view of <paramref name="source"/> with the built shape <paramref name="built"/> at the source's batch size.</summary>
        public Tensor View(Tensor source, Shape built)
        {
            if (!ReferenceEquals(source, _source))
            {
                _view = source.Reshape(source.Shape[0] == built[0] ? built : built.WithBatch(source.Shape[0]));
                _source = source;
            }
            return _view!;
        }
    }
}
