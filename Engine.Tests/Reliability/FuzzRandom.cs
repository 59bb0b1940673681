namespace Engine.Tests.Reliability;

/// <summary>
/// SplitMix64: a tiny allocation-free random source. Input <c>i</c> of a fuzz run with seed <c>s</c> draws from
/// <c>new FuzzRandom(s, i)</c>, so any single input can be regenerated from the printed seed and its index.
/// </summary>
internal struct FuzzRandom
{
    private ulong _state;

    public FuzzRandom(ulong seed, long index)
    {
        _state = seed ^ (0x9E3779B97F4A7C15UL * (ulong)(index + 1));
        NextUInt64();
    }

    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A value in [0, <paramref name="exclusiveMax"/>).</summary>
    public int Next(int exclusiveMax) => exclusiveMax <= 0 ? 0 : (int)(NextUInt64() % (ulong)exclusiveMax);

    /// <summary>A value in [<paramref name="min"/>, <paramref name="exclusiveMax"/>).</summary>
    public int Next(int min, int exclusiveMax) => min + Next(exclusiveMax - min);

    public bool Chance(int percent) => Next(100) < percent;

    public T Pick<T>(IReadOnlyList<T> items) => items[Next(items.Count)];
}
