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
    }

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
        return _output.Shape;
    }

    /// <inheritdoc />
    protected override Tensor OnForward(Tensor input, bool training)
    {
        int count = input.Shape[0], inputs = input.Shape[1];
        Tensor output = count == MaxBatch ? _output! : _output!.SliceBatch(0, count);
        Gemm.Multiply(input.ReadOnlySpan, _kernel!.Value.ReadOnlySpan, count, Units, inputs, output.Span, accumulate: false);
        if (_bias is not null)
        {
            Activations.AddBias(_bias.Value.ReadOnlySpan, count, Activation == Activation.Relu, output.Span);
        }
        else if (Activation == Activation.Relu)
        {
            Activations.Relu(output.Span, output.Span);
        }
        _input = input;
        return output;
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
        Gemm.MultiplyTransposeA(_input!.ReadOnlySpan, dPre.ReadOnlySpan, count, Units, inputs, _kernel!.Gradient.Span, accumulate: true);
        if (_bias is not null)
        {
            Activations.BiasGradient(dPre.ReadOnlySpan, count, _bias.Gradient.Span);
        }
        Tensor dInput = count == MaxBatch ? _dInput! : _dInput!.SliceBatch(0, count);
        Gemm.MultiplyTransposeB(dPre.ReadOnlySpan, _kernel.Value.ReadOnlySpan, count, Units, inputs, dInput.Span, accumulate: false);
        return dInput;
    }
}
