using Engine.Kernels;

namespace Engine.Layers;

/// <summary>
/// Max pooling over NHWC input. Defaults as Keras: pool 2x2, strides = pool size, VALID. The
/// gradient of each window goes to its first maximal input in row-major order.
/// </summary>
public sealed class MaxPool2D : Layer
{
    private ConvGeometry _geometry;
    private Workers? _workers;
    private Tensor? _output;      // [N, OH, OW, C]
    private int[] _argmax = [];   // [N, OH, OW, C], index within the example
    private Tensor? _dInput;      // [N, H, W, C]
    private readonly Action<int> _forwardChunk;
    private readonly Action<int> _backwardChunk;
    private Tensor? _callTensor;  // the input of the running Forward, or the dOutput of the running Backward
    private int _callCount;
    private int _callChunks;

    /// <summary>Creates a max-pool layer.</summary>
    /// <param name="poolSize">The window (default 2x2).</param>
    /// <param name="strides">Default: the pool size.</param>
    /// <param name="padding">VALID (default) or SAME.</param>
    public MaxPool2D(Size2? poolSize = null, Size2? strides = null, Padding padding = Padding.Valid)
    {
        PoolSize = poolSize ?? new Size2(2, 2);
        Strides = strides ?? PoolSize;
        if (PoolSize.Height < 1 || PoolSize.Width < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(poolSize), $"MaxPool2D expects a pool size of at least 1x1; received {PoolSize}.");
        }
        if (Strides.Height < 1 || Strides.Width < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(strides), $"MaxPool2D expects strides of at least 1x1; received {Strides}.");
        }
        Padding = padding;
        _forwardChunk = ForwardChunk;
        _backwardChunk = BackwardChunk;
    }

    /// <summary>The window size.</summary>
    public Size2 PoolSize { get; }

    /// <summary>The strides.</summary>
    public Size2 Strides { get; }

    /// <summary>The padding mode.</summary>
    public Padding Padding { get; }

    /// <inheritdoc />
    public override string KindName => "max_pooling2d";

    /// <inheritdoc />
    public override string TypeName => "MaxPooling2D";

    /// <inheritdoc />
    protected override Shape OnBuild(Shape inputShape, LayerContext context)
    {
        RequireRank(inputShape, 4, "[N, H, W, C]");
        _geometry = ConvGeometry.TryCreate(inputShape[1], inputShape[2], inputShape[3], PoolSize, Strides, Padding)
            ?? throw new ArgumentException(
                $"{Describe()}: a {PoolSize} pool with {Padding} padding does not fit input {inputShape}; expected H >= {PoolSize.Height} and W >= {PoolSize.Width}.");
        _workers = context.Workers;
        _output = new Tensor(inputShape[0], _geometry.OutputHeight, _geometry.OutputWidth, inputShape[3]);
        _argmax = new int[_output.Length];
        _dInput = new Tensor(inputShape);
        return _output.Shape;
    }

    /// <inheritdoc />
    protected override Tensor OnForward(Tensor input, bool training)
    {
        WinnersRecorded = true;
        int count = input.Shape[0];
        _callTensor = input;
        _callCount = count;
        _callChunks = Conv2D.ChunkCount(count);
        _workers!.For(_callChunks, _forwardChunk);
        _callTensor = null;
        return count == MaxBatch ? _output! : _output!.SliceBatch(0, count);
    }

    private void ForwardChunk(int chunk)
    {
        var (first, examples) = Conv2D.ChunkRange(_callCount, _callChunks, chunk);
        ForwardExamples(first, examples);
    }

    /// <summary>Pools examples [first, first + examples) of the running forward's input.</summary>
    private void ForwardExamples(int first, int examples) =>
        ForwardExamples(_callTensor!.ReadOnlySpan.Slice(first * _geometry.InputLength, examples * _geometry.InputLength), first, examples, recordWinners: true);

    /// <summary>
    /// Pools <paramref name="input"/> [examples, H, W, C], which are examples [first, first + examples) of the
    /// running forward, recording each window's winner for a backward when <paramref name="recordWinners"/>.
    /// </summary>
    internal void ForwardExamples(ReadOnlySpan<float> input, int first, int examples, bool recordWinners)
    {
        int outputLength = _geometry.OutputPixels * _geometry.Channels;
        MaxPool.Forward(input, _geometry, examples, _output!.Span.Slice(first * outputLength, examples * outputLength),
            recordWinners ? _argmax.AsSpan(first * outputLength, examples * outputLength) : default);
    }

    /// <summary>The pool's geometry over its input (valid once built).</summary>
    internal ConvGeometry Geometry => _geometry;

    /// <summary>
    /// Where examples [first, first + examples) of the running forward go, for a producer that pools them
    /// itself (<see cref="Winograd.ForwardPooled"/>): their pooled values [examples, OH, OW, C] and, when
    /// <paramref name="recordWinners"/>, their <paramref name="winners"/> (else empty), as <see cref="ForwardExamples(ReadOnlySpan{float}, int, int, bool)"/> writes them.
    /// </summary>
    internal Span<float> ForwardTargets(int first, int examples, bool recordWinners, out Span<int> winners)
    {
        int outputLength = _geometry.OutputPixels * _geometry.Channels;
        winners = recordWinners ? _argmax.AsSpan(first * outputLength, examples * outputLength) : default;
        return _output!.Span.Slice(first * outputLength, examples * outputLength);
    }

    /// <summary>
    /// Whether the last forward recorded the windows' winners: always in this layer's own Forward; in a
    /// conv's forward through this pool only when training (an inference pass needs only the values).
    /// </summary>
    internal bool WinnersRecorded { get; set; }

    /// <summary>Throws unless the last forward recorded the winners a backward routes the gradient to.</summary>
    internal void RequireWinners()
    {
        if (!WinnersRecorded)
        {
            throw new InvalidOperationException(
                $"{Describe()}: the last forward was an inference pass of the model, which records no pool winners; expected a forward with training: true before a backward.");
        }
    }

    /// <inheritdoc />
    protected override Tensor OnBackward(Tensor dOutput)
    {
        RequireWinners();
        int count = LastBatch;
        _callTensor = dOutput;
        _callCount = count;
        _callChunks = Conv2D.ChunkCount(count);
        _workers!.For(_callChunks, _backwardChunk);
        _callTensor = null;
        return count == MaxBatch ? _dInput! : _dInput!.SliceBatch(0, count);
    }

    private void BackwardChunk(int chunk)
    {
        var (first, examples) = Conv2D.ChunkRange(_callCount, _callChunks, chunk);
        BackwardExamples(first, examples);
    }

    /// <summary>Routes the gradient of examples [first, first + examples) of the running backward.</summary>
    private void BackwardExamples(int first, int examples) =>
        BackwardExamples(first, examples, _dInput!.Span.Slice(first * _geometry.InputLength, examples * _geometry.InputLength), maskByOutput: false);

    /// <summary>
    /// Routes the gradient of examples [first, first + examples) of the running backward into
    /// <paramref name="dInput"/> [examples, H, W, C]; with <paramref name="maskByOutput"/> a window's
    /// gradient is dropped where its pooled value is not positive (the ReLU before the pool).
    /// </summary>
    internal void BackwardExamples(int first, int examples, Span<float> dInput, bool maskByOutput)
    {
        int outputLength = _geometry.OutputPixels * _geometry.Channels;
        MaxPool.Backward(_callTensor!.ReadOnlySpan.Slice(first * outputLength, examples * outputLength),
            _argmax.AsSpan(first * outputLength, examples * outputLength), _geometry, examples, dInput,
            maskByOutput ? _output!.ReadOnlySpan.Slice(first * outputLength, examples * outputLength) : default);
    }

    /// <summary>
    /// Sets up a forward of <paramref name="count"/> examples whose chunks run inside the producing
    /// layer's parallel region (<see cref="Conv2D.ForwardThroughPool"/>), which hands each few examples
    /// to <see cref="ForwardExamples(ReadOnlySpan{float}, int, int, bool)"/>.
    /// </summary>
    internal void PrepareForwardChunks(int count)
    {
        _callCount = count;
        _callChunks = Conv2D.ChunkCount(count);
    }

    /// <summary>Ends a chunked forward: the pooled output of the prepared examples.</summary>
    internal Tensor FinishForwardChunks()
    {
        return _callCount == MaxBatch ? _output! : _output!.SliceBatch(0, _callCount);
    }

    /// <summary>Sets up a backward of <paramref name="dOutput"/> whose chunks run inside the producing layer's region (<see cref="Conv2D.BackwardThroughPool"/>).</summary>
    internal void PrepareBackwardChunks(Tensor dOutput)
    {
        _callTensor = dOutput;
        _callCount = LastBatch;
        _callChunks = Conv2D.ChunkCount(LastBatch);
    }

    /// <summary>Ends a chunked backward (its gradients went to the producing layer's buffers, not this layer's input gradient).</summary>
    internal void EndBackwardChunks() => _callTensor = null;
}
