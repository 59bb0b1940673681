namespace Engine;

/// <summary>A tensor with a stable name, e.g. an optimizer slot <c>conv2d/kernel/m</c>.</summary>
/// <param name="Name">The stable name.</param>
/// <param name="Value">The tensor.</param>
public sealed record NamedTensor(string Name, Tensor Value);
