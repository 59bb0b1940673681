namespace Engine.Data;

/// <summary>
/// The contents of an IDX file: an element type, dimensions (outermost first) and the elements in
/// row-major order, held in an array of their own type (byte[] for uint8, float[] for float32, ...).
/// </summary>
public sealed class IdxArray
{
    private readonly Array _values;
    private readonly int[] _dimensions;

    private IdxArray(Array values, IdxElementType elementType, int[] dimensions)
    {
        _values = values;
        _dimensions = dimensions;
        ElementType = elementType;
    }

    /// <summary>
    /// Wraps <paramref name="values"/> (not copied) with the given dimensions. <typeparamref name="T"/> must be
    /// byte, sbyte, short, int, float or double; the element type follows from it.
    /// </summary>
    /// <exception cref="ArgumentException">An unsupported element type, no dimensions, a dimension below 1,
    /// or a value count that differs from the product of the dimensions.</exception>
    public static IdxArray Create<T>(T[] values, params ReadOnlySpan<int> dimensions) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(values);
        IdxElementType elementType = ElementTypeOf<T>();
        if (dimensions.Length is < 1 or > byte.MaxValue)
        {
            throw new ArgumentException(
                $"An IDX array has 1 to {byte.MaxValue} dimensions; received {dimensions.Length}.", nameof(dimensions));
        }
        long count = 1;
        foreach (int dimension in dimensions)
        {
            if (dimension < 1)
            {
                throw new ArgumentException(
                    $"Every IDX dimension must be positive; received dimensions {Format(dimensions)}.", nameof(dimensions));
            }
            count *= dimension;
            if (count > Array.MaxLength)
            {
                throw new ArgumentException(
                    $"Dimensions {Format(dimensions)} hold more than {Array.MaxLength} elements.", nameof(dimensions));
            }
        }
        if (count != values.Length)
        {
            throw new ArgumentException(
                $"Dimensions {Format(dimensions)} hold {count} elements; received {values.Length} values.", nameof(values));
        }
        return new IdxArray(values, elementType, dimensions.ToArray());
    }

    /// <summary>Wraps an array the reader has already validated against its dimensions.</summary>
    internal static IdxArray CreateValidated(Array values, IdxElementType elementType, int[] dimensions) =>
        new(values, elementType, dimensions);

    /// <summary>The type of the elements.</summary>
    public IdxElementType ElementType { get; }

    /// <summary>The dimensions, outermost first (MNIST images: [count, rows, columns]).</summary>
    public ReadOnlySpan<int> Dimensions => _dimensions;

    /// <summary>The number of dimensions (1 to 255).</summary>
    public int Rank => _dimensions.Length;

    /// <summary>The number of elements: the product of the dimensions.</summary>
    public int Count => _values.Length;

    /// <summary>
    /// The elements as their own type, without a copy. <typeparamref name="T"/> must match
    /// <see cref="ElementType"/> (byte for <see cref="IdxElementType.UnsignedByte"/>, float for
    /// <see cref="IdxElementType.Single"/>, ...).
    /// </summary>
    /// <exception cref="InvalidOperationException"><typeparamref name="T"/> does not match the element type.</exception>
    public ReadOnlySpan<T> GetValues<T>() where T : unmanaged
    {
        if (_values is T[] typed)
        {
            return typed;
        }
        throw new InvalidOperationException(
            $"This IDX array holds {ElementType} elements ({_values.GetType().GetElementType()!.Name}); received a request for {typeof(T).Name}.");
    }

    /// <summary>Converts every element to float into <paramref name="destination"/>, which needs <see cref="Count"/> elements.</summary>
    public void CopyTo(Span<float> destination)
    {
        CheckDestination(destination.Length);
        switch (_values)
        {
            case byte[] values: for (int i = 0; i < values.Length; i++) { destination[i] = values[i]; } break;
            case sbyte[] values: for (int i = 0; i < values.Length; i++) { destination[i] = values[i]; } break;
            case short[] values: for (int i = 0; i < values.Length; i++) { destination[i] = values[i]; } break;
            case int[] values: for (int i = 0; i < values.Length; i++) { destination[i] = values[i]; } break;
            case float[] values: values.CopyTo(destination); break;
            case double[] values: for (int i = 0; i < values.Length; i++) { destination[i] = (float)values[i]; } break;
        }
    }

    /// <summary>Converts every element to double into <paramref name="destination"/>, which needs <see cref="Count"/> elements.</summary>
    public void CopyTo(Span<double> destination)
    {
        CheckDestination(destination.Length);
        switch (_values)
        {
            case byte[] values: for (int i = 0; i < values.Length; i++) { destination[i] = values[i]; } break;
            case sbyte[] values: for (int i = 0; i < values.Length; i++) { destination[i] = values[i]; } break;
            case short[] values: for (int i = 0; i < values.Length; i++) { destination[i] = values[i]; } break;
            case int[] values: for (int i = 0; i < values.Length; i++) { destination[i] = values[i]; } break;
            case float[] values: for (int i = 0; i < values.Length; i++) { destination[i] = values[i]; } break;
            case double[] values: values.CopyTo(destination); break;
        }
    }

    /// <summary>Formats as <c>IdxArray UnsignedByte [60000, 28, 28]</c>.</summary>
    public override string ToString() => $"IdxArray {ElementType} {Format(_dimensions)}";

    /// <summary>The size in bytes of one element of <paramref name="elementType"/>, or 0 for an unknown type.</summary>
    internal static int ElementSize(IdxElementType elementType) => elementType switch
    {
        IdxElementType.UnsignedByte or IdxElementType.SignedByte => 1,
        IdxElementType.Int16 => 2,
        IdxElementType.Int32 or IdxElementType.Single => 4,
        IdxElementType.Double => 8,
        _ => 0,
    };

    /// <summary>The raw typed array (for the writer).</summary>
    internal Array Values => _values;

    internal static string Format(ReadOnlySpan<int> dimensions) => "[" + string.Join(", ", dimensions.ToArray()) + "]";

    private static IdxElementType ElementTypeOf<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(byte)) { return IdxElementType.UnsignedByte; }
        if (typeof(T) == typeof(sbyte)) { return IdxElementType.SignedByte; }
        if (typeof(T) == typeof(short)) { return IdxElementType.Int16; }
        if (typeof(T) == typeof(int)) { return IdxElementType.Int32; }
        if (typeof(T) == typeof(float)) { return IdxElementType.Single; }
        if (typeof(T) == typeof(double)) { return IdxElementType.Double; }
        throw new ArgumentException(
            $"IDX holds byte, sbyte, short, int, float or double elements; received {typeof(T).Name}.", nameof(T));
    }

    private void CheckDestination(int length)
    {
        if (length != Count)
        {
            throw new ArgumentException(
                $"The destination must hold the {Count} elements of {this}; received a destination of {length}.", "destination");
        }
    }
}
