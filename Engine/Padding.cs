namespace Engine;

/// <summary>TensorFlow's padding modes.</summary>
public enum Padding
{
    /// <summary>No padding: <c>out = floor((in - k) / stride) + 1</c>.</summary>
    Valid,

    /// <summary><c>out = ceil(in / stride)</c>; zeros (or ignored cells) split with the extra one after.</summary>
    Same,
}
