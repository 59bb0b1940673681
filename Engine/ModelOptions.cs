namespace Engine;

/// <summary>How a model is built.</summary>
/// <param name="BatchSize">The largest batch fed at once; every buffer is sized for it (Keras's default 32; the lab uses 100).</param>
/// <param name="Seed">The one seed from which initial weights and dropout masks are drawn.</param>
/// <param name="Threads">Worker threads for the kernels; null means every core.</param>
public sealed record ModelOptions(int BatchSize = 100, int Seed = 42, int? Threads = null);
