namespace Engine;

/// <summary>The mean loss and the accuracy over a set of examples.</summary>
/// <param name="Loss">The mean per-example loss.</param>
/// <param name="Accuracy">The fraction of examples whose largest logit is the label.</param>
/// <param name="Count">The number of examples.</param>
public readonly record struct Evaluation(double Loss, double Accuracy, int Count);
