using Engine.Kernels;

namespace Engine.Layers;

/// <summary>max(x, 0) element-wise; gradient dy · (x &gt; 0), zero at exactly 0.</summary>
public sealed class ReLU : Layer
{
    private Tensor? _output; // same shape as the input
    private Tensor? _dInput; // same shape as the input

    /// <inheritdoc />
    public override string KindName => "re_lu";

    /// <inheritdoc />
    protected override Shape OnBuild(Shape inputShape, LayerContext context)
    {
        _output = new Tensor(inputShape);
        _dInput = new Tensor(inputShape);
        return inputShape;
    }

    /// <inheritdoc />
    protected override Tensor OnForward(Tensor input, bool training)
    {
        Tensor output = input.Shape[0] == MaxBatch ? _output! : _output!.SliceBatch(0, input.Shape[0]);
        Activations.Relu(input.ReadOnlySpan, output.Span);
        return output;
    }

    /// <inheritdoc />
    protected override Tensor OnBackward(Tensor dOutput)
    {
        int count = LastBatch;
        Tensor dInput = count == MaxBatch ? _dInput! : _dInput!.SliceBatch(0, count);
        Tensor output = count == MaxBatch ? _output! : _output!.SliceBatch(0, count);
        Activations.ReluBackward(output.ReadOnlySpan, dOutput.ReadOnlySpan, dInput.Span);
        return dInput;
    }
}
