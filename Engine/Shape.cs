namespace Engine;

/// <summary>
/// The dimensions of a tensor, outermost first (NHWC for activations: [N, H, W, C]).
/// Immutable; equality compares every dimension.
/// </summary>
public readonly struct Shape : IEquatable<Shape>
{
    private readonly int[]? _dimensions;

    /// <summary>Creates a shape from its dimensions; every dimension must be positive.</summary>
    /// <exception cref="ArgumentException">A dimension is zero or negative, or the element count overflows.</exception>
    public Shape(params ReadOnlySpan<int> dimensions)
    {
        _dimensions = dimensions.ToArray();
        long size = 1;
        foreach (int dimension in _dimensions)
        {
            if (dimension <= 0)
            {
                throw new ArgumentException(
                    $"Every dimension of a shape must be positive; received shape {Format(_dimensions)}.",
                    nameof(dimensions));
            }
            size *= dimension;
            if (size > Array.MaxLength)
            {
                throw new ArgumentException(
                    $"Shape {Format(_dimensions)} holds more than {Array.MaxLength} elements.", nameof(dimensions));
            }
        }
        Size = (int)size;
    }

    /// <summary>The number of dimensions.</summary>
    public int Rank => _dimensions?.Length ?? 0;

    /// <summary>The number of elements: the product of the dimensions (1 for rank 0).</summary>
    public int Size { get; } = 1;

    /// <summary>The dimension at <paramref name="axis"/>; a negative axis counts from the end.</summary>
    public int this[int axis]
    {
        get
        {
            int rank = Rank;
            int index = axis < 0 ? axis + rank : axis;
            if ((uint)index >= (uint)rank)
            {
                throw new ArgumentOutOfRangeException(nameof(axis),
                    $"Axis {axis} is outside shape {this} of rank {rank}.");
            }
            return _dimensions![index];
        }
    }

    /// <summary>The dimensions as a read-only span.</summary>
    public ReadOnlySpan<int> Dimensions => _dimensions;

    /// <summary>A copy of this shape with the first (batch) dimension replaced.</summary>
    public Shape WithBatch(int batch)
    {
        if (Rank == 0)
        {
            throw new InvalidOperationException("A rank-0 shape has no batch dimension.");
        }
        int[] dimensions = Dimensions.ToArray();
        dimensions[0] = batch;
        return new Shape(dimensions);
    }

    /// <summary>This shape without its first (batch) dimension.</summary>
    public Shape WithoutBatch() => new(Dimensions[1..]);

    /// <summary>A new shape with <paramref name="batch"/> prepended.</summary>
    public Shape PrependBatch(int batch)
    {
        int[] dimensions = new int[Rank + 1];
        dimensions[0] = batch;
        Dimensions.CopyTo(dimensions.AsSpan(1));
        return new Shape(dimensions);
    }

    /// <inheritdoc />
    public bool Equals(Shape other) => Dimensions.SequenceEqual(other.Dimensions);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Shape other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (int dimension in Dimensions)
        {
            hash.Add(dimension);
        }
        return hash.ToHashCode();
    }

    /// <summary>Shapes are equal when their dimensions are.</summary>
    public static bool operator ==(Shape left, Shape right) => left.Equals(right);

    /// <summary>Shapes differ when any dimension does.</summary>
    public static bool operator !=(Shape left, Shape right) => !left.Equals(right);

    /// <summary>Formats as <c>[28, 28, 1]</c>.</summary>
    public override string ToString() => Format(Dimensions);

    private static string Format(ReadOnlySpan<int> dimensions) => "[" + string.Join(", ", dimensions.ToArray()) + "]";
}
