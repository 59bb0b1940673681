namespace Engine.Data;

/// <summary>
/// uint8 pixels to float32 in [0, 1] as Keras's <c>x.astype("float32") / 255</c>: every value is exactly
/// <c>pixel / 255f</c>, looked up in a table of the 256 quotients.
/// </summary>
internal static class PixelScale
{
    private static readonly float[] Quotients = CreateQuotients();

    /// <summary>Writes <c>pixels[i] / 255f</c> into <c>destination[i]</c>; the lengths must be equal.</summary>
    public static void Scale(ReadOnlySpan<byte> pixels, Span<float> destination)
    {
        System.Diagnostics.Debug.Assert(destination.Length == pixels.Length);
        ReadOnlySpan<float> quotients = Quotients;
        for (int i = 0; i < pixels.Length; i++)
        {
            destination[i] = quotients[pixels[i]];
        }
    }

    private static float[] CreateQuotients()
    {
        var quotients = new float[256];
        for (int value = 0; value < quotients.Length; value++)
        {
            quotients[value] = value / 255f;
        }
        return quotients;
    }
}
