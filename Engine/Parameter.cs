namespace Engine;

/// <summary>A trainable tensor paired with the buffer its gradient accumulates into.</summary>
public sealed class Parameter
{
    /// <summary>Creates a parameter with a zeroed gradient of the same shape.</summary>
    public Parameter(string name, Tensor value)
    {
        Name = name;
        Value = value;
        Gradient = new Tensor(value.Shape);
    }

    /// <summary>The Keras-style name, e.g. <c>conv2d/kernel</c>; the layer part is set when a model is built.</summary>
    public string Name { get; internal set; }

    /// <summary>The current values.</summary>
    public Tensor Value { get; }

    /// <summary>d loss / d value, accumulated by Backward and cleared by ZeroGrad.</summary>
    public Tensor Gradient { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Name} {Value.Shape}";
}
