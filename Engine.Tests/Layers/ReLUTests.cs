using Engine.Layers;

namespace Engine.Tests.Layers;

public class ReLUTests
{
    public static IEnumerable<string> GoldenCases => Golden.CaseNames("relu.json");

    [TestCaseSource(nameof(GoldenCases))]
    public void MatchesTensorFlowGoldenExactly(string name)
    {
        var golden = Golden.Case("relu.json", name);
        var inputs = golden.GetProperty("inputs");
        var expected = golden.GetProperty("expected");
        Tensor x = Golden.Tensor(inputs.GetProperty("x"));
        var layer = LayerHarness.Built(new ReLU(), x.Shape);
        Golden.AssertClose(layer.Forward(x, training: true), Golden.Tensor(expected.GetProperty("y")), 0, "y");
        Golden.AssertClose(layer.Backward(Golden.Tensor(inputs.GetProperty("dy"))), Golden.Tensor(expected.GetProperty("dx")), 0, "dx");
    }
}
