namespace Engine;

/// <summary>An activation a layer can fuse into its output.</summary>
public enum Activation
{
    /// <summary>Identity.</summary>
    None,

    /// <summary>max(x, 0); gradient dy · (x &gt; 0).</summary>
    Relu,
}
