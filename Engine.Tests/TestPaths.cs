namespace Engine.Tests;

/// <summary>Finds the team's shared folder (golden data, MNIST) beside the repository, from wherever the tests run.</summary>
public static class TestPaths
{
    private static readonly Lazy<string> Shared = new(FindShared);

    /// <summary>The shared folder (holds data/ and golden/).</summary>
    public static string SharedDirectory => Shared.Value;

    /// <summary>The folder of the four MNIST IDX files.</summary>
    public static string MnistDirectory => Path.Combine(SharedDirectory, "data", "mnist");

    /// <summary>The TensorFlow golden data.</summary>
    public static string GoldenDirectory => Path.Combine(SharedDirectory, "golden");

    private static string FindShared()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            foreach (string candidate in new[] { Path.Combine(directory.FullName, "shared"), Path.Combine(directory.FullName, "..", "shared") })
            {
                if (Directory.Exists(Path.Combine(candidate, "golden")) && Directory.Exists(Path.Combine(candidate, "data", "mnist")))
                {
                    return Path.GetFullPath(candidate);
                }
            }
        }
        throw new DirectoryNotFoundException(
            $"No shared folder (with golden/ and data/mnist/) found above {AppContext.BaseDirectory}; expected it beside the repository.");
    }
}
