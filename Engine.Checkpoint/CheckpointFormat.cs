namespace Engine.Checkpoint;

/// <summary>The constants of the checkpoint file format; docs/checkpoint-format.md describes the layout.</summary>
internal static class CheckpointFormat
{
    /// <summary>The first 8 bytes of every checkpoint file: "ENGCKPT" and a zero byte.</summary>
    public static ReadOnlySpan<byte> Magic => "ENGCKPT\0"u8;

    /// <summary>The version this code writes, and the newest it reads.</summary>
    public const uint CurrentVersion = 1;

    /// <summary>Magic (8), version (4), flags (4), file length (8).</summary>
    public const int HeaderLength = 24;

    /// <summary>A SHA-256 digest of every preceding byte ends the file.</summary>
    public const int ChecksumLength = 32;

    /// <summary>No file shorter than a header and a checksum can be a checkpoint.</summary>
    public const int MinimumLength = HeaderLength + ChecksumLength;

    /// <summary>The largest tensor rank accepted; a guard against corrupt rank fields.</summary>
    public const int MaximumRank = 32;
}
