namespace Engine.Data;

/// <summary>One-hot encoding of integer class labels (as Keras's <c>to_categorical</c>).</summary>
public static class OneHot
{
    /// <summary>
    /// Writes one row of <paramref name="classes"/> floats per label into <paramref name="destination"/>
    /// ([labels.Length, classes], row-major): 1 at the label's column, 0 elsewhere.
    /// </summary>
    /// <exception cref="ArgumentException">The destination has the wrong length.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside [0, classes), or classes is below 1.</exception>
    public static void Encode(ReadOnlySpan<int> labels, int classes, Span<float> destination)
    {
        if (classes < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(classes), $"One-hot encoding needs at least 1 class; received {classes}.");
        }
        if (destination.Length != (long)labels.Length * classes)
        {
            throw new ArgumentException(
                $"One-hot encoding {labels.Length} labels into {classes} classes needs a destination of {(long)labels.Length * classes}; received {destination.Length}.",
                nameof(destination));
        }
        destination.Clear();
        for (int row = 0; row < labels.Length; row++)
        {
            int label = labels[row];
            if ((uint)label >= (uint)classes)
            {
                throw new ArgumentOutOfRangeException(nameof(labels),
                    $"Label {row} is {label}; expected a class in [0, {classes}).");
            }
            destination[row * classes + label] = 1f;
        }
    }

    /// <summary>A new tensor [labels.Length, classes] holding the one-hot rows of <paramref name="labels"/>.</summary>
    public static Tensor Encode(ReadOnlySpan<int> labels, int classes)
    {
        if (labels.IsEmpty)
        {
            throw new ArgumentException("One-hot encoding needs at least one label; received none.", nameof(labels));
        }
        if (classes < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(classes), $"One-hot encoding needs at least 1 class; received {classes}.");
        }
        var tensor = new Tensor(labels.Length, classes);
        Encode(labels, classes, tensor.Span);
        return tensor;
    }
}
