namespace Engine.Data;

/// <summary>The training or the test part of MNIST.</summary>
public enum MnistSplit
{
    /// <summary>The 60,000 training examples (train-*-idx?-ubyte).</summary>
    Train,

    /// <summary>The 10,000 test examples (t10k-*-idx?-ubyte).</summary>
    Test,
}

/// <summary>The names of the four MNIST files and how to find them in a folder, uncompressed or as .gz.</summary>
public static class MnistFiles
{
    /// <summary>The four file names, without the .gz extension, in a fixed order.</summary>
    public static IReadOnlyList<string> Names { get; } =
    [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ];

    /// <summary>The images file name of <paramref name="split"/>, without .gz.</summary>
    public static string ImagesName(MnistSplit split) => split == MnistSplit.Train ? Names[0] : Names[2];

    /// <summary>The labels file name of <paramref name="split"/>, without .gz.</summary>
    public static string LabelsName(MnistSplit split) => split == MnistSplit.Train ? Names[1] : Names[3];

    /// <summary>
    /// The path of <paramref name="name"/> in <paramref name="directory"/>: the uncompressed file if present,
    /// else <c>name.gz</c>; null when neither exists.
    /// </summary>
    public static string? Find(string directory, string name)
    {
        string plain = Path.Combine(directory, name);
        if (File.Exists(plain))
        {
            return plain;
        }
        string compressed = plain + ".gz";
        return File.Exists(compressed) ? compressed : null;
    }

    /// <summary>The names (of <see cref="Names"/>) that <paramref name="directory"/> lacks in both forms.</summary>
    public static IReadOnlyList<string> Missing(string directory) =>
        Names.Where(name => Find(directory, name) is null).ToArray();
}
