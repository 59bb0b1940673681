namespace Engine.Checkpoint;

/// <summary>A checkpoint file was written in a newer format version than this reader understands.</summary>
public sealed class CheckpointVersionException : CheckpointException
{
    /// <summary>Creates the exception; the message names the file and both versions.</summary>
    public CheckpointVersionException(string path, uint foundVersion, uint supportedVersion)
        : base($"Checkpoint file '{path}' has format version {foundVersion}; this reader supports versions up to {supportedVersion}. " +
               "It was written by a newer engine; read it with that engine or a later one.")
    {
        Path = path;
        FoundVersion = foundVersion;
        SupportedVersion = supportedVersion;
    }

    /// <summary>The full path of the file.</summary>
    public string Path { get; }

    /// <summary>The format version stored in the file.</summary>
    public uint FoundVersion { get; }

    /// <summary>The newest format version this reader understands.</summary>
    public uint SupportedVersion { get; }
}
