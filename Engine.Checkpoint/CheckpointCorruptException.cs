namespace Engine.Checkpoint;

/// <summary>
/// A checkpoint file is damaged, truncated or not a checkpoint at all: wrong magic, a checksum that
/// differs, a length that disagrees with the file size, or a malformed field.
/// </summary>
public sealed class CheckpointCorruptException : CheckpointException
{
    /// <summary>Creates the exception for the file at <paramref name="path"/>; the message names the file and the problem.</summary>
    public CheckpointCorruptException(string path, string problem, Exception? innerException = null)
        : base($"Checkpoint file '{path}' is corrupt: {problem}", innerException)
    {
        Path = path;
        Problem = problem;
    }

    /// <summary>The full path of the damaged file.</summary>
    public string Path { get; }

    /// <summary>What is wrong, without the file name.</summary>
    public string Problem { get; }
}
