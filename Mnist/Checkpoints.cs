using Engine;
using Engine.Checkpoint;

namespace Mnist;

/// <summary>Finding and loading checkpoints for the commands, with one-line errors.</summary>
internal static class Checkpoints
{
    /// <summary>How many checkpoints <c>train</c> keeps.</summary>
    public const int Kept = 3;

    /// <summary>The manager of <paramref name="directory"/>.</summary>
    public static CheckpointManager Manager(string directory) => new(directory, Kept);

    /// <summary>
    /// The checkpoint to load: <paramref name="name"/> (a path, or a file name in <paramref name="directory"/>)
    /// when given, else the latest in <paramref name="directory"/>.
    /// </summary>
    /// <exception cref="ConsoleException">No such checkpoint.</exception>
    public static string Resolve(string directory, string? name)
    {
        if (name is not null)
        {
            string path = File.Exists(name) ? name : Path.Combine(directory, name);
            return File.Exists(path) ? Path.GetFullPath(path)
                : throw ConsoleException.Failure($"checkpoint '{name}' not found (looked for '{Path.GetFullPath(path)}').");
        }
        return Manager(directory).LatestPath
            ?? throw ConsoleException.Failure($"no checkpoint in '{Path.GetFullPath(directory)}'; train first (mnist train --checkpoint-dir {directory}) or pass --checkpoint-dir.");
    }

    /// <summary>Runs <paramref name="load"/>, turning checkpoint errors into a one-line failure naming <paramref name="path"/>.</summary>
    public static T Load<T>(string path, Func<T> load)
    {
        try
        {
            return load();
        }
        catch (Exception error) when (error is CheckpointException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            string message = Cli.OneLine(error.Message);
            throw ConsoleException.Failure(message.Contains(path, StringComparison.Ordinal)
                ? $"cannot use the checkpoint: {message}"
                : $"cannot use the checkpoint '{path}': {message}", error);
        }
    }

    /// <summary>Builds the reference model (batch 100) and loads the weights of the checkpoint at <paramref name="path"/>.</summary>
    public static Sequential LoadReferenceModel(string path, int? threads)
    {
        Sequential model = ReferenceModels.MnistCnn();
        model.Build(ReferenceModels.MnistInput, new ModelOptions(BatchSize: 100, Threads: threads));
        Load(path, () => CheckpointFile.LoadInto(path, model.Parameters, optimizerSlots: null, ModelCheckpoint.Architecture(model)));
        return model;
    }
}
