using System.Security.Cryptography;

namespace Engine.Checkpoint;

/// <summary>
/// Replaces a file atomically: the new content goes to a temporary file in the same directory, is flushed
/// to disk, and is renamed over the destination. A crash at any moment leaves either the old file or the
/// new one, never a mix. Temporary files are named <c>.{destination name}.{8 hex digits}.tmp</c>: the
/// leading dot and the <c>.tmp</c> suffix keep them from being taken for the file they will replace.
/// </summary>
internal static class AtomicFile
{
    private const string TemporarySuffix = ".tmp";

    /// <summary>
    /// Writes <paramref name="path"/> atomically with the bytes <paramref name="write"/> produces. Tests pass
    /// <paramref name="wrap"/> to write through a stream that fails part-way (a simulated full disk).
    /// </summary>
    public static void Write(string path, Action<Stream> write, Func<FileStream, Stream>? wrap = null)
    {
        string fullPath = Path.GetFullPath(path);
        string temporaryPath = TemporaryPathFor(fullPath);
        try
        {
            using (var file = new FileStream(temporaryPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                Stream stream = wrap?.Invoke(file) ?? file; // a wrapper writes into file, which this method closes
                write(stream);
                stream.Flush();
                file.Flush(flushToDisk: true);
            }
            File.Move(temporaryPath, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(temporaryPath);
            throw;
        }
    }

    /// <summary>Whether <paramref name="fileName"/> is a temporary file left for a destination whose name starts with <paramref name="destinationPrefix"/>.</summary>
    public static bool IsTemporaryFor(string fileName, string destinationPrefix) =>
        fileName.StartsWith("." + destinationPrefix, StringComparison.Ordinal)
        && fileName.EndsWith(TemporarySuffix, StringComparison.Ordinal);

    /// <summary>Deletes a file if it can; a file that is gone or locked is left alone.</summary>
    public static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static string TemporaryPathFor(string fullPath)
    {
        string directory = Path.GetDirectoryName(fullPath)!;
        string random = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        return Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{random}{TemporarySuffix}");
    }
}
