using Engine.Layers;

namespace Engine;

/// <summary>The models of the TensorFlow 2 MNIST lab.</summary>
public static class ReferenceModels
{
    /// <summary>The MNIST input shape [28, 28, 1].</summary>
    public static Shape MnistInput { get; } = new(28, 28, 1);

    /// <summary>
    /// Conv2D(32, 3x3, same, relu) → MaxPool(2, same) → Conv2D(64) → MaxPool → Conv2D(128) →
    /// MaxPool (7→4) → Flatten(2048) → Dense(256, relu) → Dropout(0.4) → Dense(10): 619,786 parameters.
    /// </summary>
    /// <param name="dropoutRate">The dropout rate; 0 leaves the Dropout layer out (as in the golden full-model data).</param>
    public static Sequential MnistCnn(double dropoutRate = 0.4)
    {
        var layers = new List<ILayer>
        {
            new Conv2D(32, 3, padding: Padding.Same, activation: Activation.Relu),
            new MaxPool2D(2, padding: Padding.Same),
            new Conv2D(64, 3, padding: Padding.Same, activation: Activation.Relu),
            new MaxPool2D(2, padding: Padding.Same),
            new Conv2D(128, 3, padding: Padding.Same, activation: Activation.Relu),
            new MaxPool2D(2, padding: Padding.Same),
            new Flatten(),
            new Dense(256, activation: Activation.Relu),
        };
        if (dropoutRate > 0)
        {
            layers.Add(new Dropout(dropoutRate));
        }
        layers.Add(new Dense(10));
        return new Sequential(layers);
    }
}
