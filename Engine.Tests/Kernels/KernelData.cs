namespace Engine.Tests.Kernels;

/// <summary>Inputs and comparisons shared by the kernel tests.</summary>
internal static class KernelData
{
    /// <summary><paramref name="length"/> standard normal values.</summary>
    public static float[] Gaussian(int length, RandomSource random)
    {
        float[] values = new float[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = (float)random.NextGaussian();
        }
        return values;
    }

    /// <summary>Asserts the same bits, value by value (NaN payloads and the sign of zero included).</summary>
    public static void AssertBitEqual(float[] actual, float[] expected, string what) =>
        Assert.That(actual.Select(BitConverter.SingleToUInt32Bits), Is.EqualTo(expected.Select(BitConverter.SingleToUInt32Bits)), what);
}
