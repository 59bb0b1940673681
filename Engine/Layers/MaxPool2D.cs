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
        int count = input.Shape[0];
        int outputLength = _geometry.OutputPixels * _geometry.Channels;
        Tensor output = _output!;
        int[] argmax = _argmax;
        int chunks = Conv2D.ChunkCount(count);
        _workers!.For(chunks, chunk =>
        {
            var (first, examples) = Conv2D.ChunkRange(count, chunks, chunk);
            MaxPool.Forward(input.ReadOnlySpan.Slice(first * _geometry.InputLength, examples * _geometry.InputLength), _geometry, examples,
                output.Span.Slice(first * outputLength, examples * outputLength), argmax.AsSpan(first * outputLength, examples * outputLength));
        });
        return count == MaxBatch ? output : output.SliceBatch(0, count);
    }

    /// <inheritdoc />
    protected override Tensor OnBackward(Tensor dOutput)
    {
        int count = LastBatch;
        int outputLength = _geometry.OutputPixels * _geometry.Channels;
        Tensor dInput = _dInput!;
        int[] argmax = _argmax;
        int chunks = Conv2D.ChunkCount(count);
        _workers!.For(chunks, chunk =>
        {
            var (first, examples) = Conv2D.ChunkRange(count, chunks, chunk);
            MaxPool.Backward(dOutput.ReadOnlySpan.Slice(first * outputLength, examples * outputLength),
                argmax.AsSpan(first * outputLength, examples * outputLength), _geometry, examples,
                dInput.Span.Slice(first * _geometry.InputLength, examples * _geometry.InputLength));
        });
        return count == MaxBatch ? dInput : dInput.SliceBatch(0, count);
    }
}
