using Engine.Data;

namespace Engine.Benchmarks;

/// <summary>
/// The MNIST files for the benchmarks on real data: the folder named by <c>MNIST_DATA</c>, else the first
/// <c>shared/data/mnist</c> holding the four files found walking up from the current directory or from the
/// program's folder (BenchmarkDotNet runs each benchmark from a folder under Engine.Benchmarks/bin, so both
/// lead up past the repository). Nothing is downloaded.
/// </summary>
public static class MnistBenchmarkData
{
    /// <summary>Loads <paramref name="split"/> (its first <paramref name="limit"/> examples when given).</summary>
    /// <exception cref="DirectoryNotFoundException">No folder holds the files; the message says where it looked.</exception>
    public static MnistDataset Load(MnistSplit split, int? limit = null) => MnistDataset.Load(FindFolder(), split, limit);

    /// <summary>The folder holding the four MNIST files (each uncompressed or .gz).</summary>
    /// <exception cref="DirectoryNotFoundException">No folder holds the files; the message says where it looked.</exception>
    public static string FindFolder()
    {
        string variable = MnistLocator.EnvironmentVariable;
        string? named = Environment.GetEnvironmentVariable(variable);
        if (!string.IsNullOrEmpty(named))
        {
            IReadOnlyList<string> missing = MnistFiles.Missing(named);
            if (missing.Count > 0)
            {
                throw new DirectoryNotFoundException(
                    $"{variable} names '{named}', which lacks {string.Join(", ", missing)} (uncompressed or .gz); expected the four MNIST files there.");
            }
            return named;
        }
        string[] starts = [Directory.GetCurrentDirectory(), AppContext.BaseDirectory];
        foreach (string start in starts)
        {
            for (DirectoryInfo? folder = new(start); folder is not null; folder = folder.Parent)
            {
                string candidate = Path.Combine(folder.FullName, "shared", "data", "mnist");
                if (MnistFiles.Missing(candidate).Count == 0)
                {
                    return candidate;
                }
            }
        }
        throw new DirectoryNotFoundException(
            $"MNIST data not found: {variable} is not set, and no shared/data/mnist holding {string.Join(", ", MnistFiles.Names)} "
            + $"(uncompressed or .gz) lies in '{starts[0]}', '{starts[1]}' or any folder above them. Set {variable} to the folder holding the files.");
    }
}
