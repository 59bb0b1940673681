using Engine.Layers;

namespace Engine.Tests.Layers;

public class Conv2DTests
{
    public static IEnumerable<string> GoldenCases => Golden.CaseNames("conv2d.json");

    [TestCaseSource(nameof(GoldenCases))]
    public void MatchesTensorFlowGolden(string name)
    {
        var golden = Golden.Case("conv2d.json", name);
        var inputs = golden.GetProperty("inputs");
        var expected = golden.GetProperty("expected");
        Tensor x = Golden.Tensor(inputs.GetProperty("x"));
        Tensor kernel = Golden.Tensor(inputs.GetProperty("kernel"));
        Tensor bias = Golden.Tensor(inputs.GetProperty("bias"));
        Tensor dy = Golden.Tensor(inputs.GetProperty("dy"));
        var parameters = golden.GetProperty("params");

        var layer = LayerHarness.Built(new Conv2D(kernel.Shape[3], new Size2(kernel.Shape[0], kernel.Shape[1]),
            Golden.Pair(parameters.GetProperty("strides")), Golden.Padding(parameters.GetProperty("padding"))), x.Shape);
        kernel.ReadOnlySpan.CopyTo(layer.Kernel.Value.Span);
        bias.ReadOnlySpan.CopyTo(layer.Bias!.Value.Span);

        Tensor y = layer.Forward(x, training: true);
        Golden.AssertClose(y, Golden.Tensor(expected.GetProperty("y")), 1e-5, "y");
        Tensor dx = layer.Backward(dy);
        Golden.AssertClose(dx, Golden.Tensor(expected.GetProperty("dx")), 1e-5, "dx");
        Golden.AssertClose(layer.Kernel.Gradient, Golden.Tensor(expected.GetProperty("dkernel")), 1e-5, "dkernel");
        Golden.AssertClose(layer.Bias.Gradient, Golden.Tensor(expected.GetProperty("dbias")), 1e-5, "dbias");
    }

    public static IEnumerable<string> BasicsCases => Golden.CaseNames("cnn_basics.json");

    [TestCaseSource(nameof(BasicsCases))]
    public void MatchesCnnBasicsGolden(string name)
    {
        var golden = Golden.Case("cnn_basics.json", name);
        var inputs = golden.GetProperty("inputs");
        var expected = golden.GetProperty("expected");
        var parameters = golden.GetProperty("params");
        string op = golden.GetProperty("op").GetString()!;
        double tolerance = golden.TryGetProperty("exact", out var exact) && exact.GetBoolean() ? 0 : 1e-5;
        Tensor x = Golden.Tensor(inputs.GetProperty("x"));

        Tensor Convolve(Tensor input, System.Text.Json.JsonElement settings)
        {
            Tensor kernel = Golden.Tensor(inputs.GetProperty("kernel"));
            var conv = LayerHarness.Built(new Conv2D(kernel.Shape[3], new Size2(kernel.Shape[0], kernel.Shape[1]),
                Golden.Pair(settings.GetProperty("strides")), Golden.Padding(settings.GetProperty("padding")), useBias: false), input.Shape);
            kernel.ReadOnlySpan.CopyTo(conv.Kernel.Value.Span);
            return conv.Forward(input, training: false);
        }

        Tensor Pool(Tensor input, System.Text.Json.JsonElement settings) =>
            LayerHarness.Built(new MaxPool2D(Golden.Pair(settings.GetProperty("pool")), Golden.Pair(settings.GetProperty("strides")),
                Golden.Padding(settings.GetProperty("padding"))), input.Shape).Forward(input, training: false);

        switch (op)
        {
            case "conv2d":
                Golden.AssertClose(Convolve(x, parameters), Golden.Tensor(expected.GetProperty("y")), tolerance, "y");
                break;
            case "max_pool2d":
                Golden.AssertClose(Pool(x, parameters), Golden.Tensor(expected.GetProperty("y")), 0, "y");
                break;
            case "conv2d+max_pool2d":
                Tensor conv = Convolve(x, parameters.GetProperty("conv"));
                Golden.AssertClose(conv, Golden.Tensor(expected.GetProperty("conv")), tolerance, "conv");
                Golden.AssertClose(Pool(conv, parameters.GetProperty("pool")), Golden.Tensor(expected.GetProperty("y")), tolerance, "y");
                break;
            default:
                Assert.Fail($"Unknown op {op}");
                break;
        }
    }
}
