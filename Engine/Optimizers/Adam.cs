using System.Runtime.Intrinsics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// Adam exactly as Keras applies it in float32: alpha = lr·sqrt(1 - β2^t)/(1 - β1^t),
/// m += (g - m)(1 - β1), v += (g² - v)(1 - β2), w -= m·alpha / (sqrt(v) + ε).
/// Defaults: lr 0.001, β1 0.9, β2 0.999, ε 1e-7.
/// </summary>
public sealed class Adam : IOptimizer
{
    private Tensor[] _m = [];
    private Tensor[] _v = [];
    private NamedTensor[] _slots = [];
    private Workers? _workers;
    private (int Parameter, int Start, int Length)[] _pieces = [];
    private readonly Action<int> _updatePiece;
    private IReadOnlyList<Parameter>? _callParameters;
    private float _callAlpha;

    /// <summary>Parameters are updated in pieces of at most this many elements (a multiple of 16), fixed by their sizes.</summary>
    private const int PieceLength = 32_768;

    /// <summary>Creates Adam with Keras's defaults unless given.</summary>
    /// <remarks>
    /// Hyper-parameters are doubles, as Keras's Python floats: (1 - β) is computed in double and then
    /// rounded to float32, so (1 - 0.999) is float32(0.001), as in Keras.
    /// </remarks>
    public Adam(double learningRate = 0.001, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-7)
    {
        if (!(learningRate > 0) || !double.IsFinite(learningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(learningRate), $"Adam expects a finite learning rate > 0; received {learningRate}.");
        }
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(beta1), $"Adam expects 0 <= beta < 1; received beta1={beta1}, beta2={beta2}.");
        }
        if (!(epsilon >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), $"Adam expects epsilon >= 0; received {epsilon}.");
        }
        _updatePiece = UpdatePiece;
        LearningRate = learningRate;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
    }

    /// <summary>lr.</summary>
    public double LearningRate { get; }

    /// <summary>β1.</summary>
    public double Beta1 { get; }

    /// <summary>β2.</summary>
    public double Beta2 { get; }

    /// <summary>ε, added to sqrt(v) without bias correction (Keras's "epsilon hat").</summary>
    public double Epsilon { get; }

    /// <inheritdoc />
    public string Name => "adam";

    /// <inheritdoc />
    public long Iterations { get; set; }

    /// <inheritdoc />
    public IReadOnlyList<NamedTensor> Slots => _slots;

    /// <inheritdoc />
    public void Initialize(IReadOnlyList<Parameter> parameters, Workers workers)
    {
        ArgumentNullException.ThrowIfNull(workers);
        Initialize(parameters);
        _workers = workers;
    }

    /// <inheritdoc />
    public void Initialize(IReadOnlyList<Parameter> parameters)
    {
        _workers = null;
        var pieces = new List<(int, int, int)>();
        for (int index = 0; index < parameters.Count; index++)
        {
            int length = parameters[index].Value.Length;
            for (int start = 0; start < length; start += PieceLength)
            {
                pieces.Add((index, start, Math.Min(PieceLength, length - start)));
            }
        }
        _pieces = pieces.ToArray();
        _m = new Tensor[parameters.Count];
        _v = new Tensor[parameters.Count];
        _slots = new NamedTensor[2 * parameters.Count];
        for (int index = 0; index < parameters.Count; index++)
        {
            _m[index] = new Tensor(parameters[index].Value.Shape);
            _v[index] = new Tensor(parameters[index].Value.Shape);
            _slots[2 * index] = new NamedTensor(parameters[index].Name + "/m", _m[index]);
            _slots[2 * index + 1] = new NamedTensor(parameters[index].Name + "/v", _v[index]);
        }
        Iterations = 0;
    }

    /// <summary>The step size of step <paramref name="step"/> (1-based), in float32 as Keras computes it.</summary>
    public float Alpha(long step)
    {
        float t = step;
        float beta1Power = MathF.Pow((float)Beta1, t);
        float beta2Power = MathF.Pow((float)Beta2, t);
        return (float)LearningRate * MathF.Sqrt(1f - beta2Power) / (1f - beta1Power);
    }

    /// <inheritdoc />
    public void Step(IReadOnlyList<Parameter> parameters)
    {
        if (parameters.Count != _m.Length)
        {
            throw new InvalidOperationException(
                $"Adam was initialized for {_m.Length} parameters; received {parameters.Count}. Call Initialize with the model's parameters first.");
        }
        long step = Iterations + 1;
        float alpha = Alpha(step);
        float oneMinusBeta1 = (float)(1.0 - Beta1), oneMinusBeta2 = (float)(1.0 - Beta2);
        if (_workers is { Threads: > 1 } workers && SameShapes(parameters))
        {
            // Element-wise: each piece's elements get the same operations whichever thread runs it.
            _callParameters = parameters;
            _callAlpha = alpha;
            workers.For(_pieces.Length, _updatePiece);
            _callParameters = null;
        }
        else
        {
            for (int index = 0; index < parameters.Count; index++)
            {
                Update(parameters[index].Gradient.ReadOnlySpan, alpha, oneMinusBeta1, oneMinusBeta2, (float)Epsilon,
                    _m[index].Span, _v[index].Span, parameters[index].Value.Span);
            }
        }
        Iterations = step;
    }

    private void UpdatePiece(int piece)
    {
        var (index, start, length) = _pieces[piece];
        Parameter parameter = _callParameters![index];
        Update(parameter.Gradient.ReadOnlySpan.Slice(start, length), _callAlpha, (float)(1.0 - Beta1), (float)(1.0 - Beta2), (float)Epsilon,
            _m[index].Span.Slice(start, length), _v[index].Span.Slice(start, length), parameter.Value.Span.Slice(start, length));
    }

    /// <summary>Whether <paramref name="parameters"/> have the lengths the pieces were cut for.</summary>
    private bool SameShapes(IReadOnlyList<Parameter> parameters)
    {
        for (int index = 0; index < parameters.Count; index++)
        {
            if (parameters[index].Value.Length != _m[index].Length)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>One Adam update over spans: SIMD, one rounding per operation (no fused multiply-add), equal to <see cref="UpdateReference"/>.</summary>
    public static void Update(ReadOnlySpan<float> gradient, float alpha, float oneMinusBeta1, float oneMinusBeta2, float epsilon,
        Span<float> m, Span<float> v, Span<float> value)
    {
        if (Float512.IsAccelerated)
        {
            Update<Float512, Vector512<float>>(gradient, alpha, oneMinusBeta1, oneMinusBeta2, epsilon, m, v, value);
        }
        else if (Float256.IsAccelerated)
        {
            Update<Float256, Vector256<float>>(gradient, alpha, oneMinusBeta1, oneMinusBeta2, epsilon, m, v, value);
        }
        else
        {
            UpdateReference(gradient, alpha, oneMinusBeta1, oneMinusBeta2, epsilon, m, v, value);
        }
    }

    /// <summary><see cref="Update"/> a vector of <c>TLanes.Count</c> elements at a time, the tail by <see cref="UpdateReference"/>.</summary>
    internal static unsafe void Update<TLanes, TVector>(ReadOnlySpan<float> gradient, float alpha, float oneMinusBeta1, float oneMinusBeta2, float epsilon,
        Span<float> m, Span<float> v, Span<float> value)
        where TLanes : struct, IFloatVector<TVector>
        where TVector : struct
    {
        int length = gradient.Length, index = 0;
        if (m.Length < length || v.Length < length || value.Length < length)
        {
            throw new ArgumentException($"Adam expects m, v and value to hold the gradient's {length} values; received {m.Length}, {v.Length}, {value.Length}.");
        }
        TVector a = TLanes.Create(alpha), b1 = TLanes.Create(oneMinusBeta1), b2 = TLanes.Create(oneMinusBeta2), eps = TLanes.Create(epsilon);
        fixed (float* gradientPointer = gradient, mPointer = m, vPointer = v, valuePointer = value)
        {
            for (; index <= length - TLanes.Count; index += TLanes.Count)
            {
                TVector g = TLanes.Load(gradientPointer + index);
                TVector mv = TLanes.Load(mPointer + index);
                TVector vv = TLanes.Load(vPointer + index);
                // The reference's operations in its order: m += (g - m)·b1; v += (g·g - v)·b2; w -= (m·α) / (√v + ε).
                mv = TLanes.Add(mv, TLanes.Multiply(TLanes.Subtract(g, mv), b1));
                vv = TLanes.Add(vv, TLanes.Multiply(TLanes.Subtract(TLanes.Multiply(g, g), vv), b2));
                TVector step = TLanes.Divide(TLanes.Multiply(mv, a), TLanes.Add(TLanes.Sqrt(vv), eps));
                TVector w = TLanes.Subtract(TLanes.Load(valuePointer + index), step);
                TLanes.Store(mPointer + index, mv);
                TLanes.Store(vPointer + index, vv);
                TLanes.Store(valuePointer + index, w);
            }
        }
        UpdateReference(gradient.Slice(index), alpha, oneMinusBeta1, oneMinusBeta2, epsilon, m.Slice(index), v.Slice(index), value.Slice(index));
    }

    /// <summary>Scalar reference of <see cref="Update"/>.</summary>
    public static void UpdateReference(ReadOnlySpan<float> gradient, float alpha, float oneMinusBeta1, float oneMinusBeta2, float epsilon,
        Span<float> m, Span<float> v, Span<float> value)
    {
        for (int index = 0; index < gradient.Length; index++)
        {
            float g = gradient[index];
            m[index] += (g - m[index]) * oneMinusBeta1;
            v[index] += (g * g - v[index]) * oneMinusBeta2;
            value[index] -= m[index] * alpha / (MathF.Sqrt(v[index]) + epsilon);
        }
    }
}
