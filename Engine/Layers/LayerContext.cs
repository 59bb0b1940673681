namespace Engine.Layers;

/// <summary>What a layer receives when built.</summary>
/// <param name="InitializerRandom">The seeded source layers draw their initial weights from, in build order.</param>
/// <param name="TrainingRandom">The seeded source of training-time randomness (dropout masks); saved in checkpoints.</param>
/// <param name="Workers">The thread setting for kernels.</param>
public sealed record LayerContext(RandomSource InitializerRandom, RandomSource TrainingRandom, Workers Workers);
