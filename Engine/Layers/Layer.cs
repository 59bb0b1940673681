namespace Engine.Layers;

/// <summary>
/// What every layer shares: its name, the built input and output shapes, and the checks at the
/// public boundary (Forward before Build, Backward before Forward, wrong shapes, batch too large).
/// </summary>
public abstract class Layer : ILayer
{
    private Shape? _inputShape;
    private Shape? _outputShape;

    /// <summary>The batch size of the last Forward; 0 before the first.</summary>
    protected int LastBatch { get; private set; }

    /// <inheritdoc />
    public string Name { get; set; } = "";

    /// <inheritdoc />
    public abstract string KindName { get; }

    /// <summary>The type name Keras prints in a summary, e.g. <c>Conv2D</c>.</summary>
    public virtual string TypeName => GetType().Name;

    /// <summary>The built input shape (batch first).</summary>
    public Shape InputShape => _inputShape ?? throw NotBuilt();

    /// <inheritdoc />
    public Shape OutputShape => _outputShape ?? throw NotBuilt();

    /// <inheritdoc />
    public virtual IReadOnlyList<Parameter> Parameters => [];

    /// <summary>
    /// Whether Backward computes d loss / d input (default true). A model turns it off for its first
    /// layer, whose input gradient nobody reads; Backward then returns zeros. Set before Build.
    /// </summary>
    public bool ComputeInputGradient { get; set; } = true;

    /// <summary>The built batch size: the largest batch Forward accepts.</summary>
    protected int MaxBatch => InputShape[0];

    /// <inheritdoc />
    public Shape Build(Shape inputShape, LayerContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        Shape outputShape = OnBuild(inputShape, context);
        _inputShape = inputShape;
        _outputShape = outputShape;
        LastBatch = 0;
        return outputShape;
    }

    /// <inheritdoc />
    public Tensor Forward(Tensor input, bool training)
    {
        ArgumentNullException.ThrowIfNull(input);
        BeginForward(input.Shape);
        Tensor output = OnForward(input, training);
        EndForward(input.Shape[0]);
        return output;
    }

    /// <inheritdoc />
    public Tensor Backward(Tensor dOutput)
    {
        ArgumentNullException.ThrowIfNull(dOutput);
        CheckBackward(dOutput.Shape);
        return OnBackward(dOutput);
    }

    /// <summary>Forward's checks of an input of shape <paramref name="inputShape"/>; forgets the last batch until <see cref="EndForward"/>.</summary>
    internal void BeginForward(Shape inputShape)
    {
        if (_inputShape is not Shape built)
        {
            throw NotBuilt();
        }
        CheckBatchShape(inputShape, built, "input");
        LastBatch = 0;
    }

    /// <summary>The batch of the last completed forward (0 before one).</summary>
    internal int ForwardBatch => LastBatch;

    /// <summary>Records that a forward of <paramref name="batch"/> examples completed (Backward may follow).</summary>
    internal void EndForward(int batch) => LastBatch = batch;

    /// <summary>Backward's checks of a dOutput of shape <paramref name="dOutputShape"/> against the last forward.</summary>
    internal void CheckBackward(Shape dOutputShape)
    {
        if (_outputShape is not Shape built)
        {
            throw NotBuilt();
        }
        if (LastBatch == 0)
        {
            throw new InvalidOperationException(
                $"{Describe()}: Backward was called before Forward; expected a Forward of a batch first.");
        }
        if (!SameExceptBatch(dOutputShape, built) || dOutputShape[0] != LastBatch)
        {
            throw new ArgumentException(
                $"{Describe()}: Backward expects dOutput of shape {built.WithBatch(LastBatch)} (the shape of the last output); received {dOutputShape}.",
                "dOutput");
        }
    }

    /// <summary>Validates the input shape, creates parameters and buffers, returns the output shape.</summary>
    protected abstract Shape OnBuild(Shape inputShape, LayerContext context);

    /// <summary>The forward pass on a validated input of batch <c>input.Shape[0]</c> ≤ the built batch.</summary>
    protected abstract Tensor OnForward(Tensor input, bool training);

    /// <summary>The backward pass for a validated dOutput of the last Forward's shape.</summary>
    protected abstract Tensor OnBackward(Tensor dOutput);

    /// <summary>"Conv2D 'conv2d'" — for messages.</summary>
    protected string Describe() => Name.Length == 0 ? TypeName : $"{TypeName} '{Name}'";

    /// <summary>Throws unless <paramref name="shape"/> has the given rank; names what was expected.</summary>
    protected void RequireRank(Shape shape, int rank, string layout)
    {
        if (shape.Rank != rank)
        {
            throw new ArgumentException(
                $"{Describe()} expects input of rank {rank} {layout}; received shape {shape}.");
        }
    }

    private void CheckBatchShape(Shape received, Shape built, string what)
    {
        if (!SameExceptBatch(received, built))
        {
            throw new ArgumentException(
                $"{Describe()} was built for {what} of shape {built} (batch first); received {received}.");
        }
        if (received[0] > built[0])
        {
            throw new ArgumentException(
                $"{Describe()} was built for batches of at most {built[0]}; received a batch of {received[0]} (shape {received}).");
        }
    }

    private static bool SameExceptBatch(Shape received, Shape built)
    {
        bool same = received.Rank == built.Rank;
        for (int axis = 1; same && axis < built.Rank; axis++)
        {
            same = received[axis] == built[axis];
        }
        return same;
    }

    private InvalidOperationException NotBuilt() =>
        new($"{Describe()} is used before Build; expected Build(inputShape) to be called first.");
}
