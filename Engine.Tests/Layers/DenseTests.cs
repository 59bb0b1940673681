using Engine.Layers;

namespace Engine.Tests.Layers;

public class DenseTests
{
    public static IEnumerable<string> GoldenCases => Golden.CaseNames("dense.json");

    [TestCaseSource(nameof(GoldenCases))]
    public void MatchesTensorFlowGolden(string name)
    {
        var golden = Golden.Case("dense.json", name);
        var inputs = golden.GetProperty("inputs");
        var expected = golden.GetProperty("expected");
        Tensor x = Golden.Tensor(inputs.GetProperty("x"));
        Tensor kernel = Golden.Tensor(inputs.GetProperty("kernel"));
        var layer = LayerHarness.Built(new Dense(kernel.Shape[1]), x.Shape);
        kernel.ReadOnlySpan.CopyTo(layer.Kernel.Value.Span);
        Golden.Tensor(inputs.GetProperty("bias")).ReadOnlySpan.CopyTo(layer.Bias!.Value.Span);

        Golden.AssertClose(layer.Forward(x, training: true), Golden.Tensor(expected.GetProperty("y")), 1e-5, "y");
        Golden.AssertClose(layer.Backward(Golden.Tensor(inputs.GetProperty("dy"))), Golden.Tensor(expected.GetProperty("dx")), 1e-5, "dx");
        Golden.AssertClose(layer.Kernel.Gradient, Golden.Tensor(expected.GetProperty("dkernel")), 1e-5, "dkernel");
        Golden.AssertClose(layer.Bias.Gradient, Golden.Tensor(expected.GetProperty("dbias")), 1e-5, "dbias");
    }
}
