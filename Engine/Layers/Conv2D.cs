using System.Numerics.Tensors;
using Engine.Initializers;
using Engine.Kernels;

namespace Engine.Layers;

/// <summary>
/// 2-D convolution (TensorFlow's cross-correlation) over NHWC input with an HWIO kernel
/// [KH, KW, C, F], optional bias and fused ReLU: im2col into a buffer kept for Backward, then one GEMM;
/// with one input channel and whole blocks of 32 filters (the first layer), a direct convolution of
/// zero-padded images kept for Backward (<see cref="DirectConv"/>), with no im2col buffer.
/// </summary>
public sealed class Conv2D : Layer
{
    /// <summary>Examples are split into at most this many chunks, fixed by the batch and never by the thread count.</summary>
    internal const int MaxChunks = 8;

    /// <summary>The parts of the batch whose kernel gradients <see cref="_batchKernelGradient"/> sums apart, then adds in order.</summary>
    private const int BatchHalves = 2;

    /// <summary>
    /// Examples per range at most where a region runs in ranges (<see cref="Workers.ForRanges"/>): 6 examples are 96 of
    /// conv2's Winograd tiles and 24 of conv3's, whole blocks of 6 tiles.
    /// </summary>
    private const int RangeGrain = 6;

    /// <summary>Below this patch length (the first layer's 3·3·1) expanding is slow per value and the
    /// matrix small: it is expanded once for the whole batch and kept for Backward.</summary>
    private const int KeepColumnsBelow = 32;

    /// <summary>The kernel gradient's partial sums are added up in this many slices.</summary>
    private const int ReduceSlices = 4;

    private readonly IInitializer _kernelInitializer;
    private readonly IInitializer _biasInitializer;
    private Parameter? _kernel;
    private Parameter? _bias;
    private Parameter[] _parameters = [];
    private ConvGeometry _geometry;
    private Workers? _workers;
    private bool _direct;            // DirectConv instead of im2col + GEMM
    private bool _indirect;          // forward by IndirectConv (padded input, no im2col) instead of im2col + GEMM
    private bool _indirectWeightGradient; // the kernel gradient read from _paddedInput by IndirectConv (no im2col copy)
    private Tensor? _winogradDU;       // [MaxChunks, 36·C·F]: each chunk's gradient of the transformed kernel, when the kernel gradient runs Winograd ([2, 36·C·F]: each half of the batch's, when _batchKernelGradient)
    private bool _batchKernelGradient; // the Winograd kernel gradient sums one dU per half of the batch, row of points by row (see BatchKernelGradient)
    private bool _callDPreInScratch;   // the running backward's dPre is in the chunks' scratch (BackwardThroughPool)
    private Tensor? _paddedInput;    // [N, PH, PW, C]: zero-padded input of the forward, indirect only (Winograd reads the zeros in place)
    private Tensor? _columns;        // [chunks, block rows, KH·KW·C]: each chunk's im2col block; im2col only
    private Tensor? _padded;         // [N, PH, PW]: zero-padded images, direct only
    private Tensor? _output;         // [N, OH, OW, F]
    private Tensor? _dPreActivation; // [N·OH·OW, F]
    private Tensor? _dColumns;       // [chunks, block rows, KH·KW·C]
    private int _blockRows;
    private bool _keepColumns;       // short patches: the whole im2col matrix is kept for Backward
    private Tensor? _dInput;         // [N, H, W, C]
    private Tensor? _dKernelPartials; // [chunks, KH·KW·C, F]
    private Tensor? _dBiasPartials;   // [chunks, F]
    private Tensor? _kernelTransposed; // [F, KH·KW·C]
    private bool _indirectInputGradient; // dInput as a convolution of padded dPre with the flipped kernel (IndirectConv), no col2im
    private ConvGeometry _gradientGeometry; // that convolution's geometry (IndirectConv.InputGradientGeometry)
    private Tensor? _flippedKernel;    // [KH, KW, F, C]
    private Tensor? _kernelPanels;     // the kernel as IndirectConv.PackPanels lays it out, when IndirectConv.ReadsPanels
    private Tensor? _flippedPanels;    // the flipped kernel, likewise
    private Tensor? _winogradKernel;   // the kernel as Winograd.TransformKernel lays it out, when the forward runs Winograd F(4x4, 3x3)
    private Tensor? _winogradFlipped;  // the flipped kernel, likewise, when the input gradient does
    private Tensor? _paddedDPre;       // [N, OH + KH - 1, OW + KW - 1, F]
    private readonly Action<int> _forwardChunk;
    private readonly Action<int> _backwardChunk;
    private readonly Action<int> _reduceSlice;
    private readonly Action<int> _kernelGradientRow;
    private readonly Action<int> _finishKernelGradientSlice;
    private readonly Action<int> _forwardPooledChunk;
    private readonly Action<int, int> _forwardPooledRange;
    private readonly Action<int> _backwardPooledChunk;
    private readonly Action<int, int> _backwardPooledRange;
    private readonly Action<int> _transformKernelPanel;
    private readonly Action<int> _transformFlippedPanel;
    private readonly Action<int> _flipTap;
    private MaxPool2D? _callPool;  // the pool run chunk by chunk with this layer (ForwardThroughPool, BackwardThroughPool)
    private Tensor? _pooledScratch; // [chunks, ScratchExamples, OH, OW, F]: the conv output, then dOutput, of a few examples on their way through the pool
    private bool _outputInScratch;  // the last forward went through the pool: _output was not written
    private bool _callTraining;     // the running ForwardThroughPool is a training pass (the pool records its winners)
    private bool _callPoolsInKernel; // the running ForwardThroughPool's kernel pools the windows as it makes them (Winograd or DirectConv.ForwardPooled)
    private Tensor? _callInput;   // the input of the last Forward, read again by Backward
    private Tensor? _callDOutput; // the dOutput of the running Backward
    private int _callCount;
    private int _callChunks;

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
        _forwardChunk = ForwardChunk;
        _backwardChunk = BackwardChunk;
        _reduceSlice = ReduceSlice;
        _kernelGradientRow = KernelGradientRow;
        _finishKernelGradientSlice = FinishKernelGradientSlice;
        _transformKernelPanel = panel => Winograd.TransformKernel(_kernel!.Value.ReadOnlySpan, _geometry.Channels, Filters, _winogradKernel!.Span, panel, 1);
        _flipTap = tap => IndirectConv.FlipKernel(_kernel!.Value.ReadOnlySpan, KernelSize.Height, KernelSize.Width, _geometry.Channels, Filters, _flippedKernel!.Span, tap, 1);
        _transformFlippedPanel = panel => Winograd.TransformKernel(_flippedKernel!.ReadOnlySpan, Filters, _geometry.Channels, _winogradFlipped!.Span, panel, 1);
        _forwardPooledChunk = ForwardPooledChunk;
        _forwardPooledRange = ForwardPooledRange;
        _backwardPooledChunk = BackwardPooledChunk;
        _backwardPooledRange = BackwardPooledRange;
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

    /// <summary>The built geometry.</summary>
    internal ConvGeometry Geometry => _geometry;

    /// <summary>Whether Build chose the direct convolution (<see cref="DirectConv"/>) over im2col + GEMM.</summary>
    internal bool UsesDirectConvolution => _direct;

    /// <summary>Whether the forward and both gradients run as Winograd F(4x4, 3x3) (AVX2 or AVX-512 machines, 3x3 stride-1 kernels).</summary>
    internal bool UsesWinograd => _winogradKernel is not null;

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

        _keepColumns = patch < KeepColumnsBelow;
        _blockRows = _keepColumns ? rows : BlockRows(patch, rows);
        _direct = DirectConv.IsSupported(_geometry, Filters);
        _indirect = !_direct && IndirectConv.IsSupported(Filters);
        _indirectWeightGradient = _indirect && IndirectConv.SupportsWeightGradient(Filters);
        // A 3x3 stride-1 convolution's forward and both gradients run as Winograd F(4x4, 3x3) (4x fewer multiply-adds)
        // on AVX2 and on AVX-512 machines alike, with the same bits at either vector width.
        bool winograd = _indirect && Winograd.IsSupported(_geometry, Filters);
        _winogradKernel = winograd ? new Tensor(Winograd.TransformedLength(channels, Filters)) : null;
        _kernelPanels = _indirect && IndirectConv.ReadsPanels && !winograd ? new Tensor(patch * Filters) : null;
        _paddedInput = _indirect && !winograd ? new Tensor(batch, IndirectConv.PaddedLength(_geometry)) : null;
        // With the Winograd forward the kernel gradient runs Winograd too, reading the same input in place.
        _batchKernelGradient = winograd && BatchKernelGradient(channels, Filters);
        _winogradDU = winograd ? new Tensor(_batchKernelGradient ? BatchHalves : MaxChunks, Winograd.TransformedLength(channels, Filters)) : null;
        _columns = _direct || _indirectWeightGradient || winograd ? null : _keepColumns ? new Tensor(rows, patch) : new Tensor(MaxChunks, _blockRows, patch);
        _padded = _direct ? new Tensor(batch, DirectConv.PaddedHeight(_geometry), DirectConv.PaddedWidth(_geometry)) : null;
        _output = new Tensor(batch, _geometry.OutputHeight, _geometry.OutputWidth, Filters);
        // The direct path masks dOutput inside its kernel gradient; it needs dPre only for dInput.
        _dPreActivation = Activation == Activation.Relu && (!_direct || ComputeInputGradient) ? new Tensor(rows, Filters) : null;
        _indirectInputGradient = ComputeInputGradient && !_direct && IndirectConv.SupportsInputGradient(_geometry);
        if (_indirectInputGradient)
        {
            _gradientGeometry = IndirectConv.InputGradientGeometry(_geometry, Filters);
            _flippedKernel = new Tensor(KernelSize.Height, KernelSize.Width, Filters, channels);
            bool winogradGradient = Winograd.IsSupported(_gradientGeometry, channels);
            _winogradFlipped = winogradGradient ? new Tensor(Winograd.TransformedLength(Filters, channels)) : null;
            _flippedPanels = IndirectConv.ReadsPanels && !winogradGradient ? new Tensor(patch * Filters) : null;
            _paddedDPre = winogradGradient ? null : new Tensor(batch, IndirectConv.PaddedLength(_gradientGeometry));
        }
        _dColumns = ComputeInputGradient && !_indirectInputGradient ? new Tensor(_keepColumns ? rows : MaxChunks * _blockRows, patch) : null;
        _dInput = new Tensor(inputShape);
        _dKernelPartials = new Tensor(MaxChunks, patch, Filters);
        _dBiasPartials = new Tensor(MaxChunks, Filters);
        _kernelTransposed = _indirectInputGradient ? null : new Tensor(Filters, patch);
        return _output.Shape;
    }

    /// <inheritdoc />
    protected override Tensor OnForward(Tensor input, bool training)
    {
        _outputInScratch = false;
        int count = input.Shape[0];
        _callInput = input;
        _callCount = count;
        _callChunks = ChunkCount(count);
        PackKernelPanels();
        _workers!.For(_callChunks, _forwardChunk);
        return count == MaxBatch ? _output! : _output!.SliceBatch(0, count);
    }

    private void ForwardChunk(int chunk)
    {
        var (first, examples) = ChunkRange(_callCount, _callChunks, chunk);
        int length = _geometry.OutputPixels * Filters;
        ForwardExamples(chunk, first, examples, _output!.Span.Slice(first * length, examples * length));
    }

    /// <summary>
    /// Chunk <paramref name="chunk"/> of <see cref="ForwardThroughPool"/>: a few examples at a time are
    /// convolved and pooled, so that the convolution's output is pooled while it is still in the core's cache.
    /// </summary>
    private void ForwardPooledChunk(int chunk)
    {
        var (first, examples) = ChunkRange(_callCount, _callChunks, chunk);
        int step = PooledExamples(_geometry.OutputPixels * Filters);
        int length = _geometry.OutputPixels * Filters;
        Span<float> scratch = ChunkScratch(chunk, step); // [step, OH, OW, F]
        for (int start = first; start < first + examples; start += step)
        {
            // The conv output only feeds the pool (its backward needs no output: the pool masks the
            // gradient by its own output, see BackwardPooledChunk), so it stays in a small scratch.
            int count = Math.Min(step, first + examples - start);
            Span<float> output = scratch.Slice(0, count * length);
            ForwardExamples(chunk, start, count, output);
            _callPool!.ForwardExamples(output, start, count, _callTraining);
        }
    }

    /// <summary>
    /// Examples [first, first + examples) of <see cref="ForwardThroughPool"/> when the kernel pools each 2x2 window as it
    /// makes it: no output, not even in the scratch (the same values and winners as the convolution then the pool).
    /// </summary>
    private void ForwardPooledRange(int first, int examples)
    {
        Span<float> pooled = _callPool!.ForwardTargets(first, examples, _callTraining, out Span<int> winners);
        ReadOnlySpan<float> input = _callInput!.ReadOnlySpan.Slice(first * _geometry.InputLength, examples * _geometry.InputLength);
        ReadOnlySpan<float> bias = _bias is null ? default : _bias.Value.ReadOnlySpan;
        bool relu = Activation == Activation.Relu;
        if (_direct)
        {
            int paddedLength = DirectConv.PaddedLength(_geometry);
            Span<float> padded = _padded!.Span.Slice(first * paddedLength, examples * paddedLength); // kept for the kernel gradient
            DirectConv.Pad(input, _geometry, examples, padded);
            DirectConv.ForwardPooled(padded, _kernel!.Value.ReadOnlySpan, bias, _geometry, Filters, examples, relu, _callPool.Geometry, pooled, winners);
        }
        else
        {
            Winograd.ForwardPooled(input, _winogradKernel!.ReadOnlySpan, bias, _geometry, Filters, examples, relu, _callPool.Geometry, pooled, winners);
        }
    }

    /// <summary>Lays the kernel out as the AVX2 tiles read it, once per forward pass (the kernel changes only between passes); the Winograd transform panel by panel in parallel.</summary>
    private void PackKernelPanels()
    {
        if (_winogradKernel is not null)
        {
            _workers!.For(Filters / Winograd.PanelWidth, _transformKernelPanel);
        }
        else if (_kernelPanels is not null)
        {
            IndirectConv.PackPanels(_kernel!.Value.ReadOnlySpan, _geometry.PatchLength, Filters, _kernelPanels.Span);
        }
    }

    /// <summary>Examples per convolve-then-pool step: about 128 KiB of output (at least one example).</summary>
    internal static int PooledExamples(int outputLength) => Math.Max(1, (128 << 10) / (outputLength * sizeof(float)));

    /// <summary>
    /// Whether the Winograd kernel gradient of C channels and F filters sums one dU over the whole batch instead of one
    /// per chunk: when dU (36·C·F floats) is larger than 512 KiB (a core's L2 on the machines measured), as conv3's
    /// (7x7x64→128: 1.13 MiB). Eight chunks' dU would then be written to L3 and read back, each turned into the taps and
    /// the eight partial kernel gradients added up; instead <see cref="KernelGradientRow"/> sums each row of 6 points over
    /// the chunks' tiles in turn (the rows in parallel: each row's dU stays in L2), one dU for each half of the batch, and
    /// each half's dU is turned into its taps channel range by channel range; the two halves' taps are added in order. The
    /// halves are the examples each core routed back through the pool, so neither core reads the dPre the other wrote
    /// (a line moves between this machine's cores in ≈ 215 ns): thread-scaling, 21 interleaved pairs against one dU summed
    /// over the whole batch, conv3's backward scales 1.85 from 1 thread to 2 (median) against 1.72, its 2-thread time 0.96.
    /// The chunks' gradients wait in the scratch: BackwardThroughPool routes a whole chunk through the pool at a time.
    /// Training step, in-process A/B against per-chunk dU (whole chunks routed in both): 0.96-0.99 of the time on 2 threads (four runs of 25-31 pairs), 0.99 on 1; routing whole chunks instead of
    /// 5-example steps had given 0.94-0.98 before. conv2's dU (288 KiB) stays with the chunks, whose 2-example steps keep
    /// their gradient in L2 (routing its whole chunks measured the same).
    /// </summary>
    internal static bool BatchKernelGradient(int channels, int filters) =>
        (long)Winograd.TransformedLength(channels, filters) * sizeof(float) > (512 << 10);

    /// <summary>Examples each chunk's part of <see cref="_pooledScratch"/> holds: a forward step, or a whole chunk when the backward takes one (with <see cref="_batchKernelGradient"/>).</summary>
    private int ScratchExamples =>
        Math.Max(PooledExamples(_geometry.OutputPixels * Filters), _batchKernelGradient ? (MaxBatch + MaxChunks - 1) / MaxChunks : 0);

    /// <summary>The first <paramref name="examples"/> outputs of chunk <paramref name="chunk"/>'s part of <see cref="_pooledScratch"/>.</summary>
    private Span<float> ChunkScratch(int chunk, int examples)
    {
        int length = _geometry.OutputPixels * Filters;
        return _pooledScratch!.Span.Slice(chunk * ScratchExamples * length, examples * length);
    }

    /// <summary>
    /// Examples [first, first + examples) of the batch's dPre in <see cref="_pooledScratch"/>, example after example (it
    /// holds MaxChunks·ScratchExamples ≥ the batch): where <see cref="BackwardThroughPool"/> leaves it for the batch-wide
    /// kernel gradient (<see cref="_batchKernelGradient"/>), whichever ranges of examples wrote it.
    /// </summary>
    private Span<float> BatchScratch(int first, int examples)
    {
        int length = _geometry.OutputPixels * Filters;
        return _pooledScratch!.Span.Slice(first * length, examples * length);
    }

    /// <summary>
    /// The forward of examples [first, first + examples) of chunk <paramref name="chunk"/> (whose buffers it
    /// uses) into <paramref name="destination"/> [examples, OH, OW, F].
    /// </summary>
    private void ForwardExamples(int chunk, int first, int examples, Span<float> destination)
    {
        int pixels = _geometry.OutputPixels, patch = _geometry.PatchLength;
        int rowStart = first * pixels, rows = examples * pixels;
        ReadOnlySpan<float> input = _callInput!.ReadOnlySpan.Slice(first * _geometry.InputLength, examples * _geometry.InputLength);
        if (_direct)
        {
            int paddedLength = DirectConv.PaddedLength(_geometry);
            Span<float> padded = _padded!.Span.Slice(first * paddedLength, examples * paddedLength); // [examples, PH, PW]
            DirectConv.Pad(input, _geometry, examples, padded);
            DirectConv.Forward(padded, _kernel!.Value.ReadOnlySpan, _bias is null ? default : _bias.Value.ReadOnlySpan,
                _geometry, Filters, examples, Activation == Activation.Relu, destination);
            return;
        }
        bool relu = Activation == Activation.Relu;
        if (_indirect)
        {
            Span<float> result = destination;                                                               // [rows, F]
            ReadOnlySpan<float> usedBias = _bias is null ? default : _bias.Value.ReadOnlySpan;
            if (_winogradKernel is not null)
            {
                // Winograd reads the input and its padding in place.
                Winograd.Forward(input, _winogradKernel.ReadOnlySpan, usedBias, _geometry, Filters, examples, relu && _bias is not null, result);
            }
            else
            {
                // The windows are read in place from the zero-padded examples: no im2col copy.
                int paddedLength = IndirectConv.PaddedLength(_geometry);
                Span<float> padded = _paddedInput!.Span.Slice(first * paddedLength, examples * paddedLength); // [examples, PH, PW, C]
                IndirectConv.Pad(input, _geometry, examples, padded);
                if (_kernelPanels is not null)
                {
                    IndirectConv.ForwardPanels(padded, _kernelPanels.ReadOnlySpan, usedBias, _geometry, Filters, 0, rows, relu && _bias is not null, result);
                }
                else
                {
                    IndirectConv.Forward(padded, _kernel!.Value.ReadOnlySpan, usedBias, _geometry, Filters, 0, rows, relu && _bias is not null, result);
                }
            }
            if (relu && _bias is null)
            {
                Activations.Relu(result, result);
            }
            return;
        }
        Span<float> columns = _columns!.Span.Slice(ColumnsOffset(chunk, rowStart)); // [block rows, KH·KW·C]
        // Row blocks small enough that the im2col block and its output stay in L2 for the product.
        for (int row = 0; row < rows; row += _blockRows)
        {
            int block = Math.Min(_blockRows, rows - row);
            Span<float> output = destination.Slice(row * Filters, block * Filters); // [block, F]
            Im2Col.ExpandRows(input, _geometry, row, block, columns);
            Gemm.Multiply(columns, _kernel!.Value.ReadOnlySpan, block, Filters, patch, output, accumulate: false);
            if (_bias is not null)
            {
                Activations.AddBias(_bias.Value.ReadOnlySpan, block, relu, output);
            }
            else if (relu)
            {
                Activations.Relu(output, output);
            }
        }
    }

    /// <inheritdoc />
    protected override Tensor OnBackward(Tensor dOutput)
    {
        if (_outputInScratch)
        {
            throw new InvalidOperationException(
                $"{Describe()}: the last forward ran through the pool after it, which keeps no output for this layer's own Backward; expected the model's backward (or a Forward of this layer first).");
        }
        BeginBackward(dOutput, LastBatch);
        _workers!.For(_callChunks, _backwardChunk);
        return FinishBackward();
    }

    /// <summary>
    /// Whether <paramref name="pool"/> can run chunk by chunk inside this layer's parallel regions
    /// (<see cref="ForwardThroughPool"/>, <see cref="BackwardThroughPool"/>): it takes exactly this
    /// layer's output and was built with the same threads.
    /// </summary>
    internal bool CanRunWithPool(MaxPool2D pool, Workers workers) =>
        ReferenceEquals(workers, _workers) && pool.InputShape == OutputShape;

    /// <summary>
    /// This layer's forward followed by <paramref name="pool"/>'s on its output, in one parallel
    /// region: each chunk of examples is pooled right after it is convolved, while it is still in
    /// cache. The same values as Forward then pool.Forward (each chunk's work is unchanged).
    /// </summary>
    internal Tensor ForwardThroughPool(Tensor input, bool training, MaxPool2D pool)
    {
        ArgumentNullException.ThrowIfNull(input);
        int length = _geometry.OutputPixels * Filters;
        _pooledScratch ??= new Tensor(MaxChunks, ScratchExamples, length);
        BeginForward(input.Shape);
        int count = input.Shape[0];
        pool.BeginForward(pool.InputShape); // the batch may be smaller; its shape is this layer's output, checked above
        _callInput = input;
        _callCount = count;
        _callChunks = ChunkCount(count);
        pool.PrepareForwardChunks(count);
        PackKernelPanels();
        pool.WinnersRecorded = training;
        _callTraining = training;
        _callPool = pool;
        // Fused when the pool's windows are Winograd's tiles (and ReLU, if any, comes with a bias, as Winograd applies
        // it), or 2x2 blocks of the direct convolution's pixels that its AVX2 kernel pools (the scalar fallback would
        // allocate an output per chunk).
        _callPoolsInKernel = _winogradKernel is not null
            ? (Activation != Activation.Relu || _bias is not null) && Winograd.PoolsTiles(_geometry, Filters, pool.Geometry)
            : _direct && DirectConv.PoolsWindowsInKernel(_geometry, Filters, pool.Geometry);
        if (_callPoolsInKernel)
        {
            _workers!.ForRanges(count, RangeGrain, _forwardPooledRange); // each example on its own: any ranges give the same bits
        }
        else
        {
            _workers!.For(_callChunks, _forwardPooledChunk);
        }
        _callPool = null;
        _outputInScratch = true;
        EndForward(count);
        pool.EndForward(count);
        return pool.FinishForwardChunks();
    }

    /// <summary>
    /// <paramref name="pool"/>'s backward followed by this layer's, in one parallel region: each
    /// chunk's gradient is routed through the pool and then used here while it is still in cache.
    /// The same values as pool.Backward then Backward. Returns this layer's input gradient.
    /// </summary>
    internal Tensor BackwardThroughPool(MaxPool2D pool, Tensor dPooled)
    {
        ArgumentNullException.ThrowIfNull(dPooled);
        pool.CheckBackward(dPooled.Shape);
        pool.RequireWinners();
        if (LastBatch != pool.ForwardBatch)
        {
            throw new InvalidOperationException(
                $"{Describe()}: its last forward ({LastBatch} examples) was not the one the pool's gradient belongs to ({pool.ForwardBatch} examples); expected ForwardThroughPool before BackwardThroughPool.");
        }
        pool.PrepareBackwardChunks(dPooled);
        BeginBackward(dOutput: null, LastBatch); // each chunk's dOutput comes from the pool into the scratch
        _callPool = pool;
        if (BackwardInRanges)
        {
            _workers!.ForRanges(_callCount, RangeGrain, _backwardPooledRange); // each example on its own (the sums come later)
        }
        else
        {
            _workers!.For(_callChunks, _backwardPooledChunk);
        }
        _callPool = null;
        pool.EndBackwardChunks();
        return FinishBackward();
    }

    /// <summary>Sets up a backward of <paramref name="count"/> examples of <paramref name="dOutput"/> (its first rows; null when the chunks get theirs from the pool).</summary>
    private void BeginBackward(Tensor? dOutput, int count)
    {
        if (_indirectInputGradient)
        {
            _workers!.For(KernelSize.Height * KernelSize.Width, _flipTap);
            if (_winogradFlipped is not null)
            {
                _workers!.For(_geometry.Channels / Winograd.PanelWidth, _transformFlippedPanel);
            }
            else if (_flippedPanels is not null)
            {
                IndirectConv.PackPanels(_flippedKernel!.ReadOnlySpan, _gradientGeometry.PatchLength, _geometry.Channels, _flippedPanels.Span);
            }
        }
        else if (ComputeInputGradient)
        {
            // dColumns = dPre · kernelᵀ: transpose the kernel once per step, then plain products per chunk.
            Transpose.Matrix(_kernel!.Value.ReadOnlySpan, _geometry.PatchLength, Filters, _kernelTransposed!.Span);
        }
        _callDOutput = dOutput;
        _callDPreInScratch = dOutput is null;
        _callCount = count;
        _callChunks = ChunkCount(count);
    }

    /// <summary>Sums the chunks' partial gradients into the parameters; returns the input gradient.</summary>
    private Tensor FinishBackward()
    {
        if (_batchKernelGradient)
        {
            _workers!.For(CallHalves * Winograd.PointRows, _kernelGradientRow);
            _workers!.For(CallHalves * ReduceSlices + (BiasFromScratch ? _callChunks : 0), _finishKernelGradientSlice);
        }
        _callDOutput = null;
        int count = _callCount;
        // The chunks' partial gradients are summed in chunk order, element by element: the same
        // bits whatever thread sums which slice.
        _workers!.For(ReduceSlices, _reduceSlice);
        if (_bias is not null)
        {
            Span<float> dBias = _bias.Gradient.Span;
            for (int chunk = 0; chunk < _callChunks; chunk++)
            {
                TensorPrimitives.Add(dBias, _dBiasPartials!.ReadOnlySpan.Slice(chunk * Filters, Filters), dBias);
            }
        }
        return count == MaxBatch ? _dInput! : _dInput!.SliceBatch(0, count);
    }

    private void ReduceSlice(int slice)
    {
        int length = _geometry.PatchLength * Filters;
        var (first, size) = ChunkRange(length, ReduceSlices, slice);
        Span<float> dKernel = _kernel!.Gradient.Span.Slice(first, size);
        int partials = _batchKernelGradient ? CallHalves : _callChunks; // the halves' or the chunks' kernel gradients
        for (int partial = 0; partial < partials; partial++)
        {
            TensorPrimitives.Add(dKernel, _dKernelPartials!.ReadOnlySpan.Slice(partial * length + first, size), dKernel);
        }
    }

    /// <summary>The halves of the batch the batch-wide kernel gradient sums apart (one when the batch is one chunk).</summary>
    private int CallHalves => Math.Min(BatchHalves, _callChunks);

    /// <summary>Whether <see cref="FinishKernelGradientSlice"/> also sums the chunks' bias gradients (<see cref="BackwardPooledRange"/> left them).</summary>
    private bool BiasFromScratch => _callDPreInScratch && BackwardInRanges && _bias is not null;

    /// <summary>The first chunk of half <paramref name="half"/> of the call's chunks (of <see cref="CallHalves"/>).</summary>
    private int HalfStart(int half) => Workers.ShareStart(half, CallHalves, _callChunks);

    /// <summary>
    /// Item <paramref name="item"/> = half · 6 + row: row <c>row</c> of the 6x6 points of half <c>half</c>'s dU, summed over
    /// the tiles of that half of the batch's chunks, chunk after chunk (each value one chain in tile order, so the same bits
    /// for any thread count). The halves follow the examples each core routed back (<see cref="BackwardPooledRange"/>), so a
    /// core reads the dPre it wrote itself.
    /// </summary>
    private void KernelGradientRow(int item)
    {
        int half = item / Winograd.PointRows, row = item % Winograd.PointRows;
        int transformed = Winograd.TransformedLength(_geometry.Channels, Filters);
        Span<float> dU = _winogradDU!.Span.Slice(half * transformed, transformed); // [36·C·F]
        int inputLength = _geometry.InputLength, outputLength = _geometry.OutputPixels * Filters;
        for (int chunk = HalfStart(half); chunk < HalfStart(half + 1); chunk++)
        {
            var (first, examples) = ChunkRange(_callCount, _callChunks, chunk);
            ReadOnlySpan<float> input = _callInput!.ReadOnlySpan.Slice(first * inputLength, examples * inputLength);
            ReadOnlySpan<float> dPre = _callDPreInScratch
                ? BatchScratch(first, examples)
                : Activation == Activation.Relu
                    ? _dPreActivation!.ReadOnlySpan.Slice(first * outputLength, examples * outputLength) // masked by BackwardExamples
                    : _callDOutput!.ReadOnlySpan.Slice(first * outputLength, examples * outputLength);
            Winograd.WeightGradient(input, dPre, _geometry, Filters, examples, dU, accumulate: chunk > HalfStart(half), firstRow: row, rows: 1);
        }
    }

    /// <summary>
    /// Half by half: the taps of each channel slice of the kernel gradient from the half's dU, into the half's partial, then
    /// (after <see cref="BackwardPooledRange"/>) the bias gradients of the half's chunks; so each thread's share of the items
    /// is its own half.
    /// </summary>
    private void FinishKernelGradientSlice(int item)
    {
        int half = 0;
        while (half + 1 < CallHalves && item >= HalfItems(half + 1))
        {
            half++;
        }
        int index = item - HalfItems(half);
        if (index >= ReduceSlices)
        {
            // The chunk's bias gradient from its dPre in the scratch, the same chain over its rows as BackwardExamples adds up.
            int chunk = HalfStart(half) + index - ReduceSlices;
            var (firstExample, examples) = ChunkRange(_callCount, _callChunks, chunk);
            Span<float> dBias = _dBiasPartials!.Span.Slice(chunk * Filters, Filters);
            dBias.Clear();
            Activations.BiasGradient(BatchScratch(firstExample, examples), examples * _geometry.OutputPixels, dBias);
            return;
        }
        int transformed = Winograd.TransformedLength(_geometry.Channels, Filters), taps = _geometry.PatchLength * Filters;
        var (first, count) = ChunkRange(_geometry.Channels, ReduceSlices, index);
        Winograd.FinishWeightGradient(_winogradDU!.ReadOnlySpan.Slice(half * transformed, transformed), _geometry.Channels, Filters,
            _dKernelPartials!.Span.Slice(half * taps, taps), first, count);
    }

    /// <summary>The first item of half <paramref name="half"/> in <see cref="FinishKernelGradientSlice"/>: the slices and bias chunks of the halves before it.</summary>
    private int HalfItems(int half) => half * ReduceSlices + (BiasFromScratch ? HalfStart(half) : 0);

    private void BackwardChunk(int chunk)
    {
        var (first, examples) = ChunkRange(_callCount, _callChunks, chunk);
        int length = _geometry.OutputPixels * Filters;
        BackwardExamples(chunk, first, examples, startsChunk: true, _callDOutput!.ReadOnlySpan.Slice(first * length, examples * length), masked: false);
        FinishChunk(chunk);
    }

    /// <summary>After a chunk's last examples: its kernel gradient from the Winograd points it summed (when it did).</summary>
    private void FinishChunk(int chunk)
    {
        if (_winogradDU is not null && !_batchKernelGradient)
        {
            int patch = _geometry.PatchLength, length = Winograd.TransformedLength(_geometry.Channels, Filters);
            Winograd.FinishWeightGradient(_winogradDU.ReadOnlySpan.Slice(chunk * length, length), _geometry.Channels, Filters,
                _dKernelPartials!.Span.Slice(chunk * patch * Filters, patch * Filters));
        }
    }

    /// <summary>
    /// Chunk <paramref name="chunk"/> of <see cref="BackwardThroughPool"/>: a few examples at a time are
    /// routed back through the pool and then used here while still in the core's cache. The chunk's
    /// partial gradients continue the same chains over the same rows in the same order as one pass.
    /// </summary>
    private void BackwardPooledChunk(int chunk)
    {
        var (first, examples) = ChunkRange(_callCount, _callChunks, chunk);
        // A whole chunk at once when the kernel gradient is summed over the batch: the chunk's dPre waits in the scratch for KernelGradientRow.
        int step = _batchKernelGradient ? examples : PooledExamples(_geometry.OutputPixels * Filters);
        int length = _geometry.OutputPixels * Filters;
        Span<float> scratch = _batchKernelGradient ? BatchScratch(first, examples) : ChunkScratch(chunk, step); // [step, OH, OW, F]
        bool relu = Activation == Activation.Relu;
        for (int start = first; start < first + examples; start += step)
        {
            // The pool routes each gradient to its window's winner, zeroed where the pooled value is not
            // positive: at the winner the conv output is the pooled value, elsewhere the gradient is 0, so
            // this is dOutput · (output > 0) with the same bits, and the conv needs no output of its own.
            int count = Math.Min(step, first + examples - start);
            Span<float> dOutput = scratch.Slice(0, count * length);
            _callPool!.BackwardExamples(start, count, dOutput, maskByOutput: relu);
            BackwardExamples(chunk, start, count, startsChunk: start == first, dOutput, masked: relu);
        }
        FinishChunk(chunk);
    }

    /// <summary>Whether <see cref="BackwardThroughPool"/> runs in ranges of examples (<see cref="BackwardPooledRange"/>).</summary>
    private bool BackwardInRanges => _batchKernelGradient && (!ComputeInputGradient || _winogradFlipped is not null);

    /// <summary>
    /// Examples [first, first + examples) of <see cref="BackwardThroughPool"/> when the kernel gradient is summed over the
    /// batch afterwards (<see cref="_batchKernelGradient"/>) and the input gradient runs Winograd (or is not wanted): the
    /// pool's gradient into the examples' place in the scratch, then their input gradient. The kernel and bias gradients
    /// are summed from the scratch in <see cref="FinishBackward"/>, chunk by chunk as always, so these ranges do not
    /// change a bit.
    /// </summary>
    private void BackwardPooledRange(int first, int examples)
    {
        Span<float> dPre = BatchScratch(first, examples); // [examples, OH, OW, F]
        _callPool!.BackwardExamples(first, examples, dPre, maskByOutput: Activation == Activation.Relu);
        if (ComputeInputGradient)
        {
            Span<float> dInput = _dInput!.Span.Slice(first * _geometry.InputLength, examples * _geometry.InputLength);
            Winograd.Forward(dPre, _winogradFlipped!.ReadOnlySpan, default, _gradientGeometry, _geometry.Channels, examples, relu: false, dInput);
        }
    }

    /// <summary>
    /// The backward of examples [first, first + examples) of chunk <paramref name="chunk"/> from their
    /// <paramref name="dOutput"/> [examples, OH, OW, F], already multiplied by the ReLU's derivative when
    /// <paramref name="masked"/>: the chunk's partial kernel and bias gradients are started when
    /// <paramref name="startsChunk"/>, else continued.
    /// </summary>
    private void BackwardExamples(int chunk, int first, int examples, bool startsChunk, ReadOnlySpan<float> dOutput, bool masked)
    {
        bool mask = Activation == Activation.Relu && !masked;
        int pixels = _geometry.OutputPixels, patch = _geometry.PatchLength;
        int rowStart = first * pixels, rows = examples * pixels;
        ReadOnlySpan<float> input = _callInput!.ReadOnlySpan.Slice(first * _geometry.InputLength, examples * _geometry.InputLength);
        Span<float> dKernel = _dKernelPartials!.Span.Slice(chunk * patch * Filters, patch * Filters); // [KH·KW·C, F]
        Span<float> dBias = _bias is null ? default : _dBiasPartials!.Span.Slice(chunk * Filters, Filters);
        if (startsChunk)
        {
            dBias.Clear();
        }
        Span<float> dInput = ComputeInputGradient ? _dInput!.Span.Slice(first * _geometry.InputLength, examples * _geometry.InputLength) : default;
        if (!_indirectInputGradient)
        {
            dInput.Clear(); // col2im adds into it
        }
        if (_direct)
        {
            if (startsChunk)
            {
                dKernel.Clear(); // DirectConv adds into it
            }
            DirectBackwardChunk(chunk, first, examples, dKernel, dBias, dInput, dOutput, mask);
            return;
        }
        Span<float> columns = _columns is null ? default : _columns.Span.Slice(ColumnsOffset(chunk, rowStart)); // [block rows, KH·KW·C]
        for (int row = 0; row < rows; row += _blockRows)
        {
            int block = Math.Min(_blockRows, rows - row);
            ReadOnlySpan<float> dPre = dOutput.Slice(row * Filters, block * Filters); // [block, F]
            if (mask)
            {
                Span<float> product = _dPreActivation!.Span.Slice((rowStart + row) * Filters, block * Filters);
                Activations.ReluBackward(_output!.ReadOnlySpan.Slice((rowStart + row) * Filters, block * Filters), dPre, product);
                dPre = product;
            }
            if (_bias is not null)
            {
                Activations.BiasGradient(dPre, block, dBias);
            }
            // Unless the kernel gradient is read from the forward's padded examples (below): the forward's
            // im2col block again (cheaper than keeping the whole matrix), then dKernel += columnsᵀ · dPre.
            if (!_indirectWeightGradient && _winogradDU is null)
            {
                if (!_keepColumns)
                {
                    Im2Col.ExpandRows(input, _geometry, row, block, columns);
                }
                Gemm.MultiplyTransposeA(columns, dPre, block, Filters, patch, dKernel, accumulate: row > 0 || !startsChunk);
            }
            // Unless it runs as a convolution (below), the input gradient: dColumns = dPre · kernelᵀ folded back.
            if (ComputeInputGradient && !_indirectInputGradient)
            {
                Span<float> dColumns = _dColumns!.Span.Slice(ColumnsOffset(chunk, rowStart), block * patch); // [block, KH·KW·C]
                Gemm.Multiply(dPre, _kernelTransposed!.ReadOnlySpan, block, patch, Filters, dColumns, accumulate: false);
                Im2Col.FoldRows(dColumns, _geometry, row, block, dInput);
            }
        }
        ReadOnlySpan<float> chunkDPre = mask
            ? _dPreActivation!.ReadOnlySpan.Slice(rowStart * Filters, rows * Filters)
            : dOutput;                                                                                          // [examples, OH, OW, F]
        if (_winogradDU is not null)
        {
            // dU = Σ over the chunk's tiles of V ⊗ dM in the 36 Winograd points (V from the forward's input,
            // its padding read in place); FinishChunk turns it into the kernel gradient once the chunk is done.
            // With _batchKernelGradient, FinishBackward sums it over the whole batch instead (KernelGradientRow).
            if (!_batchKernelGradient)
            {
                int length = Winograd.TransformedLength(_geometry.Channels, Filters);
                Winograd.WeightGradient(input, chunkDPre, _geometry, Filters, examples, _winogradDU.Span.Slice(chunk * length, length), accumulate: !startsChunk);
            }
        }
        else if (_indirectWeightGradient)
        {
            // dKernel = Σ over the chunk's rows of window ⊗ dPre, the windows read in place from the
            // forward's zero-padded examples (no im2col copy); the same bits as columnsᵀ · dPre.
            int paddedInputLength = IndirectConv.PaddedLength(_geometry);
            IndirectConv.WeightGradient(_paddedInput!.ReadOnlySpan.Slice(first * paddedInputLength, examples * paddedInputLength), chunkDPre,
                _geometry, Filters, rows, dKernel, accumulate: !startsChunk);
        }
        if (_indirectInputGradient)
        {
            // dInput = dPre (zero-padded) convolved with the flipped kernel: each value one chain, written once.
            if (_winogradFlipped is not null)
            {
                Winograd.Forward(chunkDPre, _winogradFlipped.ReadOnlySpan, default, _gradientGeometry, _geometry.Channels, examples, relu: false, dInput);
                return;
            }
            int paddedLength = IndirectConv.PaddedLength(_gradientGeometry);
            Span<float> padded = _paddedDPre!.Span.Slice(first * paddedLength, examples * paddedLength);      // [examples, OH + KH - 1, OW + KW - 1, F]
            IndirectConv.Pad(chunkDPre, _gradientGeometry, examples, padded);
            int inputRows = examples * _geometry.InputHeight * _geometry.InputWidth;
            if (_flippedPanels is not null)
            {
                IndirectConv.ForwardPanels(padded, _flippedPanels.ReadOnlySpan, default, _gradientGeometry, _geometry.Channels, 0, inputRows, relu: false, dInput);
            }
            else
            {
                IndirectConv.Forward(padded, _flippedKernel!.ReadOnlySpan, default, _gradientGeometry, _geometry.Channels, 0, inputRows, relu: false, dInput);
            }
        }
    }

    /// <summary>
    /// The direct path's backward for chunk <paramref name="chunk"/>, examples [first, first + count):
    /// the kernel and bias gradients in one pass over dOutput, which DirectConv masks by the ReLU itself
    /// unless dPre is stored for the input gradient; that still goes through dColumns and col2im.
    /// </summary>
    private void DirectBackwardChunk(int chunk, int first, int count, Span<float> dKernel, Span<float> dBias, Span<float> dInput,
        ReadOnlySpan<float> dOutput, bool mask)
    {
        int pixels = _geometry.OutputPixels, patch = _geometry.PatchLength;
        int rowStart = first * pixels, rows = count * pixels;
        ReadOnlySpan<float> dPre = dOutput;                                                                             // [rows, F]
        ReadOnlySpan<float> reluOutput = mask ? _output!.ReadOnlySpan.Slice(rowStart * Filters, rows * Filters) : default;
        if (_dPreActivation is not null && !reluOutput.IsEmpty)
        {
            Span<float> masked = _dPreActivation.Span.Slice(rowStart * Filters, rows * Filters);                     // [rows, F]
            Activations.ReluBackward(reluOutput, dPre, masked);
            dPre = masked;
            reluOutput = default;
        }
        DirectConv.WeightGradient(_padded!.ReadOnlySpan.Slice(first * DirectConv.PaddedLength(_geometry)), reluOutput, dPre,
            _geometry, Filters, count, dKernel, dBias);
        if (!ComputeInputGradient)
        {
            return;
        }
        Span<float> dColumns = _dColumns!.Span.Slice(ColumnsOffset(chunk, rowStart));                                   // [block rows, KH·KW·C]
        for (int row = 0; row < rows; row += _blockRows)
        {
            int block = Math.Min(_blockRows, rows - row);
            Gemm.Multiply(dPre.Slice(row * Filters, block * Filters), _kernelTransposed!.ReadOnlySpan, block, patch, Filters, dColumns, accumulate: false);
            Im2Col.FoldRows(dColumns, _geometry, row, block, dInput);
        }
    }

    /// <summary>Where chunk <paramref name="chunk"/>'s im2col block starts in the column buffers.</summary>
    private int ColumnsOffset(int chunk, int rowStart) => (_keepColumns ? rowStart : chunk * _blockRows) * _geometry.PatchLength;

    /// <summary>
    /// Rows per im2col block: the GEMM's row block (144, a multiple of its 6-row tile), measured best of
    /// 48-672 rows on conv2 and conv3 chunks: the block (166-332 KiB), its output and the kernel stay in
    /// a core's L2 cache between the expansion and the product. Never more than the rows of the batch.
    /// </summary>
    internal static int BlockRows(int patch, int rows) => Math.Min(144, rows);

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
