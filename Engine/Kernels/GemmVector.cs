using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Kernels;

/// <summary>
/// The few vector operations the GEMM tiles need, over one register width. Implemented by
/// value types so the JIT compiles each tile once per width with every call inlined.
/// </summary>
internal unsafe interface IGemmVector<TVector>
    where TVector : struct
{
    /// <summary>Floats per vector.</summary>
    static abstract int Count { get; }

    /// <summary>All lanes zero.</summary>
    static abstract TVector Zero { get; }

    /// <summary>Loads <see cref="Count"/> floats from <paramref name="source"/> (any alignment).</summary>
    static abstract TVector Load(float* source);

    /// <summary>Stores <paramref name="value"/> to <paramref name="destination"/> (any alignment).</summary>
    static abstract void Store(float* destination, TVector value);

    /// <summary>Every lane set to *<paramref name="source"/>.</summary>
    static abstract TVector Broadcast(float* source);

    /// <summary>left · right + addend with one rounding (hardware FMA, as <see cref="MathF.FusedMultiplyAdd"/>).</summary>
    static abstract TVector MultiplyAdd(TVector left, TVector right, TVector addend);

    /// <summary>left + right.</summary>
    static abstract TVector Add(TVector left, TVector right);
}

/// <summary>512-bit vectors (AVX-512F): 16 floats.</summary>
internal readonly unsafe struct Gemm512 : IGemmVector<Vector512<float>>
{
    /// <summary>True when this width runs in hardware.</summary>
    public static bool IsSupported => Vector512.IsHardwareAccelerated && Avx512F.IsSupported && Avx.IsSupported;

    public static int Count => Vector512<float>.Count;

    public static Vector512<float> Zero => Vector512<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(float* source) => Vector512.Load(source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float* destination, Vector512<float> value) => value.Store(destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Broadcast(float* source) => Vector512.Create(*source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MultiplyAdd(Vector512<float> left, Vector512<float> right, Vector512<float> addend) =>
        Avx512F.FusedMultiplyAdd(left, right, addend);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Add(Vector512<float> left, Vector512<float> right) => left + right;
}

/// <summary>256-bit vectors (AVX2 + FMA3): 8 floats.</summary>
internal readonly unsafe struct Gemm256 : IGemmVector<Vector256<float>>
{
    /// <summary>True when this width runs in hardware.</summary>
    public static bool IsSupported => Vector256.IsHardwareAccelerated && Avx2.IsSupported && Fma.IsSupported;

    public static int Count => Vector256<float>.Count;

    public static Vector256<float> Zero => Vector256<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(float* source) => Vector256.Load(source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float* destination, Vector256<float> value) => value.Store(destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Broadcast(float* source) => Vector256.Create(*source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MultiplyAdd(Vector256<float> left, Vector256<float> right, Vector256<float> addend) =>
        Fma.MultiplyAdd(left, right, addend);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Add(Vector256<float> left, Vector256<float> right) => left + right;
}
