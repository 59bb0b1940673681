using System.Numerics.Tensors;
using Engine.Initializers;
using Engine.Kernels;

namespace Engine.Layers;

/// <summary>A fully connected layer: y[N, out] = x[N, in] · kernel[in, out] + bias[out], optional fused ReLU.</summary>
public sealed class Dense : Layer
{
    private readonly IInitializer _kernelInitializer;
    private readonly IInitializer _biasInitializer;
    private Parameter? _kernel;
    private Parameter? _bias;
    private Parameter[] _parameters = [];
    private Workers? _workers;
    private Tensor? _input;          // [N, in] of the last Forward
    private Tensor? _output;         // [N, out]
    private Tensor? _dPreActivation; // [N, out]
    private Tensor? _dInput;         // [N, in]
    private Tensor? _inputTransposed; // [in, N]
    private Tensor? _dPreTransposed;   // [out, N]
    private Tensor? _dInputTransposed; // [in, N]
    private readonly Action<int> _forwardChunk;
    private readonly Action<int> _backwardChunk;
    private readonly Action<int> _transposeChunk;
    private int _callCount;
    private Tensor? _callDPre;       // [N, out] of the running Backward

    /// <summary>Creates a dense layer.</summary>
    /// <param name="units">The output width (≥ 1).</param>
    /// <param name="activation">An activation fused into the output.</param>
    /// <param name="useBias">Whether to add a bias.</param>
    /// <param name="kernelInitializer">Default Glorot uniform.</param>
    /// <param name="biasInitializer">Default zeros.</param>
    public Dense(int units, Activation activation = Activation.None, bool useBias = true,
        IInitializer? kernelInitializer = null, IInitializer? biasInitializer = null)
    {
        if (units < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(units), $"Dense expects units >= 1; received units={units}.");
        }
        Units = units;
        Activation = activation;
        UseBias = useBias;
        _kernelInitializer = kernelInitializer ?? new GlorotUniform();
        _biasInitializer = biasInitializer ?? new Zeros();
        _forwardChunk = ForwardChunk;
        _backwardChunk = BackwardChunk;
        _transposeChunk = TransposeChunk;
    }

    /// <summary>Rows (examples, or input features for the kernel gradient) are split into this many fixed chunks.</summary>
    private const int Chunks = 4;

    /// <summary>
    /// Multiply-adds (N·in·out) below which the backward runs on the calling thread: the last layer's 100·256·10 took
    /// 0.043 ms on one thread and 0.059 ms on two (two parallel regions of 4 tiny chunks).
    /// </summary>
    private const long SerialBelow = 1 << 20;

    /// <summary>The output width.</summary>
    public int Units { get; }

    /// <summary>The fused activation.</summary>
    public Activation Activation { get; }

    /// <summary>Whether a bias is added.</summary>
    public bool UseBias { get; }

    /// <inheritdoc />
    public override string KindName => "dense";

    /// <summary>The kernel [in, out] (after Build).</summary>
    public Parameter Kernel => _kernel ?? throw new InvalidOperationException($"{Describe()} has no kernel before Build.");

    /// <summary>The bias [out], or null.</summary>
    public Parameter? Bias => _bias;

    /// <inheritdoc />
    public override IReadOnlyList<Parameter> Parameters => _parameters;

    /// <inheritdoc />
    protected override Shape OnBuild(Shape inputShape, LayerContext context)
    {
        RequireRank(inputShape, 2, "[N, features] (add a Flatten layer before Dense)");
        int batch = inputShape[0], inputs = inputShape[1];
        _workers = context.Workers;
        var kernel = new Tensor(inputs, Units);
        _kernelInitializer.Fill(kernel.Span, inputs, Units, context.InitializerRandom);
        _kernel = new Parameter("kernel", kernel);
        if (UseBias)
        {
            var bias = new Tensor(Units);
            _biasInitializer.Fill(bias.Span, inputs, Units, context.InitializerRandom);
            _bias = new Parameter("bias", bias);
            _parameters = [_kernel, _bias];
        }
        else
        {
            _bias = null;
            _parameters = [_kernel];
        }
        _output = new Tensor(batch, Units);
        _dPreActivation = new Tensor(batch, Units);
        _dInput = new Tensor(batch, inputs);
        _inputTransposed = new Tensor(inputs, batch);
        _dPreTransposed = new Tensor(Units, batch);
        _dInputTransposed = new Tensor(inputs, batch);
        return _output.Shape;
    }

    /// <inheritdoc />
    protected override Tensor OnForward(Tensor input, bool training)
    {
        _input = input;
        _callCount = input.Shape[0];
        _workers!.For(ColumnPanels(), _forwardChunk);
        return _callCount == MaxBatch ? _output! : _output!.SliceBatch(0, _callCount);
    }

    /// <summary>Output columns per forward panel: a multiple of 16 (a whole vector), about Units / Chunks.</summary>
    private int PanelWidth => ((Units + Chunks - 1) / Chunks + 15) / 16 * 16;

    /// <summary>The forward's column panels: each thread reads only its columns of the kernel.</summary>
    private int ColumnPanels() => (Units + PanelWidth - 1) / PanelWidth;

    private void ForwardChunk(int chunk)
    {
        // Output columns [first, first + count) for every example: each element is the same chain as in
        // a whole-matrix product, and the kernel is read once per step instead of once per row chunk.
        int inputs = InputShape[1], rows = _callCount;
        int first = chunk * PanelWidth, count = Math.Min(PanelWidth, Units - first);
        Span<float> output = _output!.Span.Slice(0, rows * Units); // [rows, out]
        Gemm.MultiplyColumns(_input!.ReadOnlySpan.Slice(0, rows * inputs), _kernel!.Value.ReadOnlySpan, rows, Units, inputs, output, first, count);
        for (int row = 0; row < rows; row++)
        {
            Span<float> values = output.Slice(row * Units + first, count);
            if (_bias is not null)
            {
                Activations.AddBias(_bias.Value.ReadOnlySpan.Slice(first, count), 1, Activation == Activation.Relu, values);
            }
            else if (Activation == Activation.Relu)
            {
                Activations.Relu(values, values);
            }
        }
    }

    /// <inheritdoc />
    protected override Tensor OnBackward(Tensor dOutput)
    {
        int count = LastBatch, inputs = InputShape[1];
        Tensor dPre = dOutput;
        if (Activation == Activation.Relu)
        {
            dPre = count == MaxBatch ? _dPreActivation! : _dPreActivation!.SliceBatch(0, count);
            Activations.ReluBackward(_output!.ReadOnlySpan.Slice(0, count * Units), dOutput.ReadOnlySpan, dPre.Span);
        }
        if (_bias is not null)
        {
            Activations.BiasGradient(dPre.ReadOnlySpan, count, _bias.Gradient.Span);
        }
        // dKernel[in, out] += xᵀ[in, N] · dPre[N, out] and dInputᵀ[in, N] = kernel[in, out] · dPreᵀ[out, N]:
        // with x and dPre transposed first (in parallel), both are products split by input features,
        // each reading only its own rows of the kernel; each chunk then transposes its rows of dInputᵀ.
        // dInput[n, i] is the chain Σ over u ascending of kernel[i, u] · dPre[n, u], as dPre · kernelᵀ.
        _callCount = count;
        _callDPre = dPre;
        if ((long)count * inputs * Units < SerialBelow)
        {
            // A small layer (the model's last, 256 -> 10): waking the helpers costs more than they save. The same chunks
            // on this thread, so the same bits.
            for (int chunk = 0; chunk < Chunks; chunk++)
            {
                TransposeChunk(chunk);
            }
            for (int chunk = 0; chunk < Chunks; chunk++)
            {
                BackwardChunk(chunk);
            }
        }
        else
        {
            _workers!.For(Chunks, _transposeChunk);
            _workers!.For(Chunks, _backwardChunk);
        }
        _callDPre = null;
        return count == MaxBatch ? _dInput! : _dInput!.SliceBatch(0, count);
    }

    private void TransposeChunk(int chunk)
    {
        int count = _callCount, inputs = InputShape[1];
        if (chunk < Math.Min(Chunks, count))
        {
            var (first, rows) = Conv2D.ChunkRange(count, Math.Min(Chunks, count), chunk);
            Transpose.Rows(_input!.ReadOnlySpan, count, inputs, _inputTransposed!.Span, first, first + rows);
            if (ComputeInputGradient)
            {
                Transpose.Rows(_callDPre!.ReadOnlySpan, count, Units, _dPreTransposed!.Span, first, first + rows);
            }
        }
    }

    private void BackwardChunk(int chunk)
    {
        int count = _callCount, inputs = InputShape[1];
        ReadOnlySpan<float> dPre = _callDPre!.ReadOnlySpan;
        // Input features [first, first + rows) of the kernel gradient and of dInputᵀ.
        var (first, rows) = Conv2D.ChunkRange(inputs, Chunks, chunk);
        Gemm.Multiply(_inputTransposed!.ReadOnlySpan.Slice(first * count, rows * count), dPre, rows, Units, count,
            _kernel!.Gradient.Span.Slice(first * Units, rows * Units), accumulate: true);
        if (ComputeInputGradient)
        {
            Gemm.Multiply(_kernel.Value.ReadOnlySpan.Slice(first * Units, rows * Units), _dPreTransposed!.ReadOnlySpan.Slice(0, Units * count),
                rows, count, Units, _dInputTransposed!.Span.Slice(first * count, rows * count), accumulate: false);
            Transpose.Rows(_dInputTransposed.ReadOnlySpan.Slice(0, inputs * count), inputs, count, _dInput!.Span.Slice(0, count * inputs), first, first + rows);
        }
    }
}
