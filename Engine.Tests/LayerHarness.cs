using Engine.Layers;

namespace Engine.Tests;

/// <summary>Builds single layers for tests.</summary>
public static class LayerHarness
{
    /// <summary>A context with fixed seeds and the given thread count.</summary>
    public static LayerContext Context(int threads = 1, ulong seed = 7) =>
        new(new RandomSource(seed), new RandomSource(seed + 1), new Workers(threads));

    /// <summary>Builds <paramref name="layer"/> for <paramref name="inputShape"/> (batch first) and returns it.</summary>
    public static T Built<T>(T layer, Shape inputShape, int threads = 1) where T : ILayer
    {
        layer.Name = layer.KindName;
        layer.Build(inputShape, Context(threads));
        return layer;
    }
}
