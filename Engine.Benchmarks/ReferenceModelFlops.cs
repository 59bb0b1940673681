using BenchmarkDotNet.Running;
using Engine.Layers;

namespace Engine.Benchmarks;

/// <summary>
/// The floating-point operations of the reference model (<see cref="ReferenceModels.MnistCnn"/>), counted from
/// its layer shapes: the multiply-adds of the convolutions and dense layers, 2 FLOPs each; pooling, activations,
/// dropout, the loss and the optimizer are left out. Forward: Conv2D 2·outputSize·(KH·KW·C), Dense
/// 2·outputSize·inputFeatures. Backward: twice the forward (weight gradient and input gradient), once for a
/// layer that computes no input gradient (the first conv). 16.0 MFLOP per image forward, 47.4 MFLOP per
/// training image (forward and backward), 2.85 TFLOP per 60,000-image epoch.
/// </summary>
public static class ReferenceModelFlops
{
    /// <summary>The forward FLOPs of one image (inference, or the forward half of training).</summary>
    public static double InferencePerImage { get; } = PerImage(training: false);

    /// <summary>The forward and backward FLOPs of one training image.</summary>
    public static double TrainingPerImage { get; } = PerImage(training: true);

    /// <summary>The forward FLOPs of a built layer over its built batch; 0 for layers without multiply-adds.</summary>
    public static double Forward(ILayer layer) => layer switch
    {
        Conv2D conv => 2.0 * conv.OutputShape.Size * conv.Kernel.Value.Length / conv.Filters,
        Dense dense => 2.0 * dense.OutputShape.Size * dense.Kernel.Value.Shape[0],
        _ => 0,
    };

    /// <summary>The backward FLOPs of a built layer over its built batch: 2x <see cref="Forward"/>, 1x without an input gradient.</summary>
    public static double Backward(ILayer layer) =>
        Forward(layer) * (layer is Layer { ComputeInputGradient: false } ? 1 : 2);

    private static double PerImage(bool training)
    {
        Sequential model = ReferenceModels.MnistCnn();
        model.Build(ReferenceModels.MnistInput, new ModelOptions(BatchSize: 1, Seed: 1, Threads: 1));
        double flops = 0;
        foreach (ILayer layer in model.Layers)
        {
            flops += Forward(layer) + (training ? Backward(layer) : 0);
        }
        return flops;
    }
}

/// <summary>Which pass of the reference model a benchmark runs.</summary>
public enum ModelPass
{
    /// <summary>Forward without dropout or gradients.</summary>
    Inference,

    /// <summary>Forward, backward and the optimizer update.</summary>
    Training,
}

/// <summary>
/// Declares that one operation of a benchmark runs <see cref="Pass"/> of the reference model over
/// <see cref="Images"/> images (<see cref="ReferenceModelFlops"/> counts the FLOPs).
/// </summary>
/// <param name="pass">The pass.</param>
/// <param name="images">The images one operation processes (per <c>OperationsPerInvoke</c> when the benchmark sets it).</param>
public sealed class ModelFlopsAttribute(ModelPass pass, int images) : FlopCountAttribute
{
    /// <summary>The pass.</summary>
    public ModelPass Pass { get; } = pass;

    /// <summary>The images one operation processes.</summary>
    public int Images { get; } = images;

    /// <inheritdoc />
    public override double PerOperation(BenchmarkCase benchmarkCase) =>
        Images * (Pass == ModelPass.Training ? ReferenceModelFlops.TrainingPerImage : ReferenceModelFlops.InferencePerImage);
}
