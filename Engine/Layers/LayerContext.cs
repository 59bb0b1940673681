namespace Engine.Layers;

/// <summary>What a layer receives when built: the random source for its initializers and dropout, and the workers.</summary>
/// <param name="Random">The model's seeded source; layers draw initial weights from it in build order.</param>
/// <param name="Workers">The thread setting for kernels.</param>
public sealed record LayerContext(RandomSource Random, Workers Workers);
