using System.Runtime.Intrinsics;

namespace Engine.Kernels;

/// <summary>
/// The element-wise vector operations of the pool, bias, Adam and fold kernels, over one register
/// width, so each kernel is written once and compiled per width (the JIT inlines every call on these
/// value types). Each operation rounds as its scalar twin does, so a kernel equals its scalar
/// reference bit for bit at either width. Int lanes (the pool's winners) travel as the bits of a float vector.
/// </summary>
internal unsafe interface IFloatVector<TVector>
    where TVector : struct
{
    /// <summary>True when this width runs in hardware.</summary>
    static abstract bool IsAccelerated { get; }

    /// <summary>Floats (or ints) per vector.</summary>
    static abstract int Count { get; }

    /// <summary>All lanes +0.</summary>
    static abstract TVector Zero { get; }

    /// <summary>Every lane set to <paramref name="value"/>.</summary>
    static abstract TVector Create(float value);

    /// <summary>Loads <see cref="Count"/> floats from <paramref name="source"/> (any alignment).</summary>
    static abstract TVector Load(float* source);

    /// <summary>Stores <paramref name="value"/> to <paramref name="destination"/> (any alignment).</summary>
    static abstract void Store(float* destination, TVector value);

    static abstract TVector Add(TVector left, TVector right);

    static abstract TVector Subtract(TVector left, TVector right);

    static abstract TVector Multiply(TVector left, TVector right);

    /// <summary>a·b + c rounded once, as <see cref="MathF.FusedMultiplyAdd"/>.</summary>
    static abstract TVector FusedMultiplyAdd(TVector a, TVector b, TVector c);

    static abstract TVector Divide(TVector left, TVector right);

    static abstract TVector Sqrt(TVector value);

    /// <summary>The larger of each pair as <see cref="Math.Max(float, float)"/> (NaN wins, +0 over -0).</summary>
    static abstract TVector Max(TVector left, TVector right);

    /// <summary><see cref="Max"/>(value, +0) bit for bit: the ReLU (NaN stays, -0 becomes +0).</summary>
    static abstract TVector Relu(TVector value);

    /// <summary>All bits set in the lanes where left &gt; right, 0 elsewhere (false when either is NaN).</summary>
    static abstract TVector GreaterThan(TVector left, TVector right);

    /// <summary>Per bit: <paramref name="whereSet"/> where <paramref name="mask"/> is set, else <paramref name="otherwise"/>.</summary>
    static abstract TVector Select(TVector mask, TVector whereSet, TVector otherwise);

    static abstract TVector BitwiseAnd(TVector left, TVector right);

    /// <summary>Loads <see cref="Count"/> ints from <paramref name="source"/> as bits.</summary>
    static abstract TVector LoadInts(int* source);

    /// <summary>Stores the bits of <paramref name="value"/> as <see cref="Count"/> ints.</summary>
    static abstract void StoreInts(int* destination, TVector value);

    /// <summary>The ints first, first + 1, …, first + Count - 1, as bits.</summary>
    static abstract TVector Indices(int first);

    /// <summary>All bits set in the lanes whose ints are equal, 0 elsewhere.</summary>
    static abstract TVector EqualInts(TVector left, TVector right);
}

/// <summary>512-bit vectors (AVX-512F): 16 floats.</summary>
internal readonly unsafe struct Float512 : IFloatVector<Vector512<float>>
{
    public static bool IsAccelerated => Vector512.IsHardwareAccelerated;

    public static int Count => Vector512<float>.Count;

    public static Vector512<float> Zero => Vector512<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Create(float value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(float* source) => Vector512.Load(source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float* destination, Vector512<float> value) => value.Store(destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Add(Vector512<float> left, Vector512<float> right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Subtract(Vector512<float> left, Vector512<float> right) => left - right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Multiply(Vector512<float> left, Vector512<float> right) => left * right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> FusedMultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Divide(Vector512<float> left, Vector512<float> right) => left / right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sqrt(Vector512<float> value) => Vector512.Sqrt(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Max(Vector512<float> left, Vector512<float> right) => Vector512.Max(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Relu(Vector512<float> value) => Vector512.Max(value, Vector512<float>.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> GreaterThan(Vector512<float> left, Vector512<float> right) => Vector512.GreaterThan(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Select(Vector512<float> mask, Vector512<float> whereSet, Vector512<float> otherwise) =>
        Vector512.ConditionalSelect(mask, whereSet, otherwise);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> BitwiseAnd(Vector512<float> left, Vector512<float> right) => left & right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadInts(int* source) => Vector512.Load(source).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreInts(int* destination, Vector512<float> value) => value.AsInt32().Store(destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Indices(int first) => (Vector512<int>.Indices + Vector512.Create(first)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> EqualInts(Vector512<float> left, Vector512<float> right) =>
        Vector512.Equals(left.AsInt32(), right.AsInt32()).AsSingle();
}

/// <summary>256-bit vectors (AVX2): 8 floats.</summary>
internal readonly unsafe struct Float256 : IFloatVector<Vector256<float>>
{
    public static bool IsAccelerated => Vector256.IsHardwareAccelerated;

    public static int Count => Vector256<float>.Count;

    public static Vector256<float> Zero => Vector256<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Create(float value) => Vector256.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(float* source) => Vector256.Load(source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float* destination, Vector256<float> value) => value.Store(destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Add(Vector256<float> left, Vector256<float> right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Subtract(Vector256<float> left, Vector256<float> right) => left - right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Multiply(Vector256<float> left, Vector256<float> right) => left * right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> FusedMultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Divide(Vector256<float> left, Vector256<float> right) => left / right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sqrt(Vector256<float> value) => Vector256.Sqrt(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Max(Vector256<float> left, Vector256<float> right) => Vector256.Max(left, right);

    /// <summary>
    /// Vector256.Max(value, +0) in two instructions (a compare and an and-not) instead of the five of Max's NaN and signed-zero
    /// handling: value where it is not ≤ 0 (so also where it is NaN), +0 elsewhere (-0 included). The same bits for every
    /// input, NaN payloads too. The AVX2 conv kernels apply it to every output before their pools (conv1's forward alone: about 0.95 of the time).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Relu(Vector256<float> value) => Vector256.AndNot(value, Vector256.LessThanOrEqual(value, Vector256<float>.Zero));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> GreaterThan(Vector256<float> left, Vector256<float> right) => Vector256.GreaterThan(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Select(Vector256<float> mask, Vector256<float> whereSet, Vector256<float> otherwise) =>
        Vector256.ConditionalSelect(mask, whereSet, otherwise);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> BitwiseAnd(Vector256<float> left, Vector256<float> right) => left & right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadInts(int* source) => Vector256.Load(source).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreInts(int* destination, Vector256<float> value) => value.AsInt32().Store(destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Indices(int first) => (Vector256<int>.Indices + Vector256.Create(first)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> EqualInts(Vector256<float> left, Vector256<float> right) =>
        Vector256.Equals(left.AsInt32(), right.AsInt32()).AsSingle();
}
