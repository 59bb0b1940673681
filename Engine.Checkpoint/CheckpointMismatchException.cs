namespace Engine.Checkpoint;

/// <summary>
/// A checkpoint does not fit the model it is restored into. One exception lists every difference:
/// parameters whose shapes differ, parameters missing from the checkpoint, parameters the model does not
/// have, and a differing architecture description.
/// </summary>
public sealed class CheckpointMismatchException : CheckpointException
{
    /// <summary>Creates the exception; <paramref name="source"/> names the checkpoint (a path or "the checkpoint").</summary>
    public CheckpointMismatchException(string source, IReadOnlyList<string> differences)
        : base(FormatMessage(source, differences))
    {
        Differences = differences;
    }

    /// <summary>One line per difference, e.g. <c>conv2d/kernel: expected shape [3, 3, 1, 32], found [5, 5, 1, 32]</c>.</summary>
    public IReadOnlyList<string> Differences { get; }

    private static string FormatMessage(string source, IReadOnlyList<string> differences)
    {
        string noun = differences.Count == 1 ? "difference" : "differences";
        return $"{source} does not match the model ({differences.Count} {noun}):" + Environment.NewLine
            + string.Join(Environment.NewLine, differences.Select(difference => "  " + difference));
    }
}
