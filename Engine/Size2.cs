namespace Engine;

/// <summary>A height x width pair (kernel size, strides, pool size).</summary>
/// <param name="Height">The size along H.</param>
/// <param name="Width">The size along W.</param>
public readonly record struct Size2(int Height, int Width)
{
    /// <summary>A square size.</summary>
    public static implicit operator Size2(int size) => new(size, size);

    /// <inheritdoc />
    public override string ToString() => $"{Height}x{Width}";
}
