using System.Numerics.Tensors;
using Engine.Initializers;
using Engine.Kernels;

namespace Engine.Layers;

/// <summary>
/// 2-D convolution (TensorFlow's cross-correlation) over NHWC input with an HWIO kernel
/// [KH, KW, C, F], optional bias and fused ReLU: im2col into a buffer kept for Backward, then one GEMM.
/// </summary>
public sealed class Conv2D : Layer
{
    /// <summary>Examples are split into at most this many chunks, fixed by the batch and never by the thread count.</summary>
    internal const int MaxChunks = 8;

    private readonly IInitializer _kernelInitializer;
    private readonly IInitializer _biasInitializer;
    private Parameter? _kernel;
    private Parameter? _bias;
    private Parameter[] _parameters = [];
    private ConvGeometry _geometry;
    private Workers? _workers;
    private Tensor? _columns;        // [N·OH·OW, KH·KW·C]
    private Tensor? _output;         // [N, OH, OW, F]
    private Tensor? _dPreActivation; // [N·OH·OW, F]
    private Tensor? _dColumns;       // [N·OH·OW, KH·KW·C]
    private Tensor? _dInput;         // [N, H, W, C]
    private Tensor? _dKernelPartials; // [chunks, KH·KW·C, F]

    /// <summary>Creates a convolution layer.</summary>
    /// <param name="filters">F, the number of output channels (≥ 1).</param>
    /// <param name="kernelSize">KH x KW (≥ 1 each).</param>
    /// <param name="strides">Strides along H and W (default 1).</param>
    /// <param name="padding">VALID (default, as Keras) or SAME.</param>
    /// <param name="activation">An activation fused into the output.</param>
    /// <param name="useBias">Whether to add a bias per filter.</param>
    /// <param name="kernelInitializer">Default Glorot uniform.</param>
    /// <param name="biasInitializer">Default zeros.</param>
    public Conv2D(int filters, Size2 kernelSize, Size2? strides = null, Padding padding = Padding.Valid,
        Activation activation = Activation.None, bool useBias = true,
        IInitializer? kernelInitializer = null, IInitializer? biasInitializer = null)
    {
        Size2 stride = strides ?? new Size2(1, 1);
        if (filters < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(filters), $"Conv2D expects filters >= 1; received filters={filters}.");
        }
        if (kernelSize.Height < 1 || kernelSize.Width < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(kernelSize), $"Conv2D expects a kernel size of at least 1x1; received {kernelSize}.");
        }
        if (stride.Height < 1 || stride.Width < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(strides), $"Conv2D expects strides of at least 1x1; received {stride}.");
        }
        Filters = filters;
        KernelSize = kernelSize;
        Strides = stride;
        Padding = padding;
        Activation = activation;
        UseBias = useBias;
        _kernelInitializer = kernelInitializer ?? new GlorotUniform();
        _biasInitializer = biasInitializer ?? new Zeros();
    }

    /// <summary>F.</summary>
    public int Filters { get; }

    /// <summary>KH x KW.</summary>
    public Size2 KernelSize { get; }

    /// <summary>Strides along H and W.</summary>
    public Size2 Strides { get; }

    /// <summary>The padding mode.</summary>
    public Padding Padding { get; }

    /// <summary>The fused activation.</summary>
    public Activation Activation { get; }

    /// <summary>Whether a bias is added.</summary>
    public bool UseBias { get; }

    /// <inheritdoc />
    public override string KindName => "conv2d";

    /// <summary>The kernel [KH, KW, C, F] (after Build).</summary>
    public Parameter Kernel => _kernel ?? throw new InvalidOperationException($"{Describe()} has no kernel before Build.");

    /// <summary>The bias [F], or null without bias (after Build).</summary>
    public Parameter? Bias => _bias;

    /// <inheritdoc />
    public override IReadOnlyList<Parameter> Parameters => _parameters;

    /// <inheritdoc />
    protected override Shape OnBuild(Shape inputShape, LayerContext context)
    {
        RequireRank(inputShape, 4, "[N, H, W, C]");
        int batch = inputShape[0], height = inputShape[1], width = inputShape[2], channels = inputShape[3];
        _geometry = ConvGeometry.TryCreate(height, width, channels, KernelSize, Strides, Padding)
            ?? throw new ArgumentException(
                $"{Describe()}: a {KernelSize} kernel with {Padding} padding does not fit input {inputShape}; expected H >= {KernelSize.Height} and W >= {KernelSize.Width}.");
        _workers = context.Workers;
        int patch = _geometry.PatchLength;
        int rows = batch * _geometry.OutputPixels;

        var kernel = new Tensor(KernelSize.Height, KernelSize.Width, channels, Filters);
        _kernelInitializer.Fill(kernel.Span, patch, KernelSize.Height * KernelSize.Width * Filters, context.InitializerRandom);
        _kernel = new Parameter("kernel", kernel);
        if (UseBias)
        {
            var bias = new Tensor(Filters);
            _biasInitializer.Fill(bias.Span, patch, Filters, context.InitializerRandom);
            _bias = new Parameter("bias", bias);
            _parameters = [_kernel, _bias];
        }
        else
        {
            _bias = null;
            _parameters = [_kernel];
        }

        _columns = new Tensor(rows, patch);
        _output = new Tensor(batch, _geometry.OutputHeight, _geometry.OutputWidth, Filters);
        _dPreActivation = Activation == Activation.Relu ? new Tensor(rows, Filters) : null;
        _dColumns = new Tensor(rows, patch);
        _dInput = new Tensor(inputShape);
        _dKernelPartials = new Tensor(MaxChunks, patch, Filters);
        return _output.Shape;
    }

    /// <inheritdoc />
    protected override Tensor OnForward(Tensor input, bool training)
    {
        int count = input.Shape[0];
        int pixels = _geometry.OutputPixels, patch = _geometry.PatchLength;
        Tensor columns = _columns!, output = _output!, kernel = _kernel!.Value;
        Tensor? bias = _bias?.Value;
        bool relu = Activation == Activation.Relu;
        int chunks = ChunkCount(count);
        _workers!.For(chunks, chunk =>
        {
            var (first, examples) = ChunkRange(count, chunks, chunk);
            int rowStart = first * pixels, rows = examples * pixels;
            Span<float> chunkColumns = columns.Span.Slice(rowStart * patch, rows * patch);
            Span<float> chunkOutput = output.Span.Slice(rowStart * Filters, rows * Filters);
            Im2Col.Expand(input.ReadOnlySpan.Slice(first * _geometry.InputLength), _geometry, examples, chunkColumns);
            Gemm.Multiply(chunkColumns, kernel.ReadOnlySpan, rows, Filters, patch, chunkOutput, accumulate: false);
            if (bias is not null)
            {
                Activations.AddBias(bias.ReadOnlySpan, rows, relu, chunkOutput);
            }
            else if (relu)
            {
                Activations.Relu(chunkOutput, chunkOutput);
            }
        });
        return count == MaxBatch ? output : output.SliceBatch(0, count);
    }

    /// <inheritdoc />
    protected override Tensor OnBackward(Tensor dOutput)
    {
        int count = LastBatch;
        int pixels = _geometry.OutputPixels, patch = _geometry.PatchLength;
        Tensor columns = _columns!, output = _output!, dColumns = _dColumns!, dInput = _dInput!, partials = _dKernelPartials!;
        Tensor kernel = _kernel!.Value;
        Tensor dPre = Activation == Activation.Relu ? _dPreActivation! : dOutput.Reshape(new Shape(count * pixels, Filters));
        bool relu = Activation == Activation.Relu;
        int chunks = ChunkCount(count);
        _workers!.For(chunks, chunk =>
        {
            var (first, examples) = ChunkRange(count, chunks, chunk);
            int rowStart = first * pixels, rows = examples * pixels;
            Span<float> chunkDPre = dPre.Span.Slice(rowStart * Filters, rows * Filters);
            if (relu)
            {
                Activations.ReluBackward(output.ReadOnlySpan.Slice(rowStart * Filters, rows * Filters),
                    dOutput.ReadOnlySpan.Slice(rowStart * Filters, rows * Filters), chunkDPre);
            }
            ReadOnlySpan<float> chunkColumns = columns.ReadOnlySpan.Slice(rowStart * patch, rows * patch);
            Gemm.MultiplyTransposeA(chunkColumns, chunkDPre, rows, Filters, patch,
                partials.Span.Slice(chunk * patch * Filters, patch * Filters), accumulate: false);
            Span<float> chunkDColumns = dColumns.Span.Slice(rowStart * patch, rows * patch);
            Gemm.MultiplyTransposeB(chunkDPre, kernel.ReadOnlySpan, rows, Filters, patch, chunkDColumns, accumulate: false);
            Im2Col.Fold(chunkDColumns, _geometry, examples, dInput.Span.Slice(first * _geometry.InputLength));
        });

        Span<float> dKernel = _kernel.Gradient.Span;
        for (int chunk = 0; chunk < chunks; chunk++)
        {
            TensorPrimitives.Add(dKernel, partials.ReadOnlySpan.Slice(chunk * patch * Filters, patch * Filters), dKernel);
        }
        if (_bias is not null)
        {
            Activations.BiasGradient(dPre.ReadOnlySpan.Slice(0, count * pixels * Filters), count * pixels, _bias.Gradient.Span);
        }
        return count == MaxBatch ? dInput : dInput.SliceBatch(0, count);
    }

    /// <summary>The number of example chunks for a batch: fixed by the batch size alone.</summary>
    internal static int ChunkCount(int count) => Math.Min(count, MaxChunks);

    /// <summary>The examples [first, first + count) of chunk <paramref name="chunk"/>.</summary>
    internal static (int First, int Count) ChunkRange(int total, int chunks, int chunk)
    {
        int first = (int)((long)total * chunk / chunks);
        int end = (int)((long)total * (chunk + 1) / chunks);
        return (first, end - first);
    }
}
