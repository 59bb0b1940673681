using System.Runtime.InteropServices;

namespace Engine;

/// <summary>
/// A dense float32 tensor in row-major order (NHWC for images). Storage is contiguous, pinned and
/// 64-byte aligned; <see cref="Reshape"/> and <see cref="SliceBatch"/> return views that share it.
/// </summary>
public sealed class Tensor
{
    /// <summary>The alignment of every tensor's first element, in bytes.</summary>
    public const int Alignment = 64;

    private const int FloatsPerAlignment = Alignment / sizeof(float);

    private readonly float[] _storage;
    private readonly int _offset;

    /// <summary>Creates a zero-filled tensor of the given shape.</summary>
    public Tensor(Shape shape)
    {
        if (shape.Rank == 0)
        {
            throw new ArgumentException("A tensor needs a shape of rank 1 or more; received a rank-0 shape.", nameof(shape));
        }
        Shape = shape;
        _storage = GC.AllocateArray<float>(shape.Size + FloatsPerAlignment, pinned: true);
        _offset = AlignedOffset(_storage);
    }

    /// <summary>Creates a zero-filled tensor with the given dimensions.</summary>
    public Tensor(params ReadOnlySpan<int> dimensions) : this(new Shape(dimensions))
    {
    }

    private Tensor(float[] storage, int offset, Shape shape)
    {
        _storage = storage;
        _offset = offset;
        Shape = shape;
    }

    /// <summary>A tensor holding a copy of <paramref name="values"/>, which must have exactly <c>shape.Size</c> elements.</summary>
    public static Tensor FromValues(Shape shape, ReadOnlySpan<float> values)
    {
        if (values.Length != shape.Size)
        {
            throw new ArgumentException(
                $"Shape {shape} holds {shape.Size} elements; received {values.Length} values.", nameof(values));
        }
        var tensor = new Tensor(shape);
        values.CopyTo(tensor.Span);
        return tensor;
    }

    /// <summary>The dimensions of this tensor.</summary>
    public Shape Shape { get; }

    /// <summary>The number of elements.</summary>
    public int Length => Shape.Size;

    /// <summary>The elements, row-major.</summary>
    public Span<float> Span => _storage.AsSpan(_offset, Shape.Size);

    /// <summary>The elements, row-major, read-only.</summary>
    public ReadOnlySpan<float> ReadOnlySpan => _storage.AsSpan(_offset, Shape.Size);

    /// <summary>A view with another shape of the same element count; no data is copied.</summary>
    public Tensor Reshape(Shape shape)
    {
        if (shape.Size != Shape.Size)
        {
            throw new ArgumentException(
                $"Cannot reshape a tensor of shape {Shape} ({Shape.Size} elements) to {shape} ({shape.Size} elements).",
                nameof(shape));
        }
        return new Tensor(_storage, _offset, shape);
    }

    /// <summary>A view of rows [start, start + count) of the first (batch) dimension; no data is copied.</summary>
    public Tensor SliceBatch(int start, int count)
    {
        int batch = Shape[0];
        if (start < 0 || count < 1 || start + count > batch)
        {
            throw new ArgumentOutOfRangeException(nameof(count),
                $"Batch slice [{start}, {start + count}) is outside a tensor of shape {Shape} (expected 0 <= start, 1 <= count, start + count <= {batch}).");
        }
        int perExample = Shape.Size / batch;
        return new Tensor(_storage, _offset + start * perExample, Shape.WithBatch(count));
    }

    /// <summary>Copies this tensor's elements into a new tensor of the same shape.</summary>
    public Tensor Clone() => FromValues(Shape, ReadOnlySpan);

    /// <summary>Sets every element to zero.</summary>
    public void Clear() => Span.Clear();

    /// <summary>The element at a multi-dimensional index (slow; for tests and printing).</summary>
    public float this[params ReadOnlySpan<int> index]
    {
        get => Span[FlatIndex(index)];
        set => Span[FlatIndex(index)] = value;
    }

    /// <summary>A pinned pointer to the first element; valid for the tensor's lifetime (storage is pinned).</summary>
    internal unsafe float* Pointer => (float*)Unsafe.AsPointer(ref _storage[_offset]);

    /// <inheritdoc />
    public override string ToString() => $"Tensor{Shape}";

    private int FlatIndex(ReadOnlySpan<int> index)
    {
        if (index.Length != Shape.Rank)
        {
            throw new ArgumentException(
                $"An index into a tensor of shape {Shape} needs {Shape.Rank} components; received {index.Length}.");
        }
        int flat = 0;
        for (int axis = 0; axis < index.Length; axis++)
        {
            int dimension = Shape[axis];
            if ((uint)index[axis] >= (uint)dimension)
            {
                throw new IndexOutOfRangeException(
                    $"Index {index[axis]} on axis {axis} is outside [0, {dimension}) of shape {Shape}.");
            }
            flat = flat * dimension + index[axis];
        }
        return flat;
    }

    private static unsafe int AlignedOffset(float[] storage)
    {
        nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(storage));
        int misalignment = (int)(address & (Alignment - 1));
        return misalignment == 0 ? 0 : (Alignment - misalignment) / sizeof(float);
    }
}
