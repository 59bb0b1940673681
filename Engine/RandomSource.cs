namespace Engine;

/// <summary>
/// A seeded pseudo-random source (xoshiro256**, seeded through SplitMix64) whose whole state can be
/// read and restored, so that a resumed run draws the same numbers as an uninterrupted one. It
/// gives the same sequence on every machine and runtime.
/// </summary>
public sealed class RandomSource
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>Creates a source from a seed; equal seeds give equal sequences.</summary>
    public RandomSource(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
    }

    /// <summary>The four state words, for checkpoints.</summary>
    public ulong[] GetState() => [_s0, _s1, _s2, _s3];

    /// <summary>Restores a state returned by <see cref="GetState"/>.</summary>
    public void SetState(ReadOnlySpan<ulong> state)
    {
        if (state.Length != 4)
        {
            throw new ArgumentException($"A random state has 4 words; received {state.Length}.", nameof(state));
        }
        if ((state[0] | state[1] | state[2] | state[3]) == 0)
        {
            throw new ArgumentException("A random state of all zeros is invalid for xoshiro256**.", nameof(state));
        }
        (_s0, _s1, _s2, _s3) = (state[0], state[1], state[2], state[3]);
    }

    /// <summary>A new independent source derived from this one's next output (for a sub-stream).</summary>
    public RandomSource Fork() => new(NextUInt64());

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>
    /// Sets each element of <paramref name="mask"/>, in order, to <paramref name="kept"/> when the next
    /// <see cref="NextDouble"/> is at least <paramref name="rate"/>, else to 0: the same draws and the
    /// same state afterwards as calling <see cref="NextDouble"/> once per element (a dropout mask),
    /// with the state held in registers for the whole loop.
    /// </summary>
    public void FillDropoutMask(Span<float> mask, double rate, float kept)
    {
        if (!(rate >= 0 && rate <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(rate), $"A dropout rate must be in [0, 1]; received {rate}.");
        }
        // NextDouble is u·2⁻⁵³ for the top 53 bits u, so NextDouble >= rate exactly when u >= ⌈rate·2⁵³⌉
        // (rate·2⁵³ is exact): an integer comparison, made without a branch.
        ulong threshold = (ulong)Math.Ceiling(rate * (1UL << 53));
        int keptBits = BitConverter.SingleToInt32Bits(kept);
        ulong s0 = _s0, s1 = _s1, s2 = _s2, s3 = _s3;
        for (int index = 0; index < mask.Length; index++)
        {
            ulong result = ulong.RotateLeft(s1 * 5, 7) * 9;
            ulong t = s1 << 17;
            s2 ^= s0;
            s3 ^= s1;
            s1 ^= s2;
            s0 ^= s3;
            s2 ^= t;
            s3 = ulong.RotateLeft(s3, 45);
            int keep = (int)((threshold - 1 - (result >> 11)) >> 63); // 1 when u >= threshold (both below 2⁵³)
            mask[index] = BitConverter.Int32BitsToSingle(keptBits & -keep);
        }
        (_s0, _s1, _s2, _s3) = (s0, s1, s2, s3);
    }

    /// <summary>A uniform float in [0, 1) with 24 random bits.</summary>
    public float NextSingle() => (NextUInt64() >> 40) * (1.0f / (1 << 24));

    /// <summary>A uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>A uniform integer in [0, maxExclusive), without modulo bias.</summary>
    public int NextInt(int maxExclusive)
    {
        if (maxExclusive <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxExclusive), $"Expected a positive bound; received {maxExclusive}.");
        }
        ulong bound = (ulong)maxExclusive;
        ulong threshold = (0UL - bound) % bound;
        while (true)
        {
            ulong r = NextUInt64();
            UInt128 product = (UInt128)r * bound;
            if ((ulong)product >= threshold)
            {
                return (int)(product >> 64);
            }
        }
    }

    /// <summary>A standard normal sample (Box-Muller, in double).</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble();
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    private static ulong SplitMix64(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
