using Engine.Data;

namespace Mnist;

/// <summary>
/// The console's access to MNIST through Engine.Data: <see cref="MnistLocator"/> finds the files (an
/// explicit folder, $MNIST_DATA, the cache, else a verified download), <see cref="MnistDataset"/> loads
/// a split. Failures become one-line <see cref="ConsoleException"/>s.
/// </summary>
internal static class MnistData
{
    /// <summary>The folder holding the four files: <paramref name="directory"/> when given, else what the locator finds or fetches.</summary>
    public static string Locate(string? directory)
    {
        try
        {
            return new MnistLocator().Locate(directory);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException or InvalidDataException or HttpRequestException)
        {
            throw ConsoleException.Failure($"MNIST data unavailable: {Cli.OneLine(error.Message)}", error);
        }
    }

    /// <summary>The training split (the first <paramref name="limit"/> images when given).</summary>
    public static MnistDataset LoadTrain(string? directory, int? limit = null) => Load(directory, MnistSplit.Train, limit);

    /// <summary>The test split (the first <paramref name="limit"/> images when given).</summary>
    public static MnistDataset LoadTest(string? directory, int? limit = null) => Load(directory, MnistSplit.Test, limit);

    private static MnistDataset Load(string? directory, MnistSplit split, int? limit)
    {
        string folder = Locate(directory);
        try
        {
            return MnistDataset.Load(folder, split, limit);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            throw ConsoleException.Failure($"cannot load the MNIST {split.ToString().ToLowerInvariant()} split from '{folder}': {Cli.OneLine(error.Message)}", error);
        }
    }
}
