namespace Mnist;

/// <summary>
/// Keeps a second <c>train</c> out of a checkpoint folder in use: a lock file (<see cref="FileName"/>) opened with
/// <see cref="FileShare.None"/> for the whole run. On Linux .NET backs <see cref="FileShare.None"/> with an advisory
/// <c>flock(LOCK_EX)</c>, which the kernel drops when the holder exits for any reason, killed included, so a crash
/// leaves no stale lock; <see cref="FileOptions.DeleteOnClose"/> removes the file on a normal exit (a killed holder
/// may leave the file, which locks nothing). Tests: Engine.Tests/Reliability/CheckpointLockTests.cs.
/// </summary>
internal sealed class CheckpointLock : IDisposable
{
    /// <summary>The lock file's name inside the checkpoint folder.</summary>
    public const string FileName = ".train.lock";

    private readonly FileStream _file;

    private CheckpointLock(FileStream file)
    {
        _file = file;
    }

    /// <summary>Takes the lock of <paramref name="directory"/> (which must exist) or fails naming the folder.</summary>
    /// <exception cref="ConsoleException">Another process (or another run in this one) holds the lock.</exception>
    public static CheckpointLock Acquire(string directory)
    {
        string path = Path.Combine(directory, FileName);
        try
        {
            return new CheckpointLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 1, FileOptions.DeleteOnClose));
        }
        catch (IOException error) when (error is not (FileNotFoundException or DirectoryNotFoundException or PathTooLongException))
        {
            throw ConsoleException.Failure(
                $"the checkpoint folder '{directory}' is in use by another 'mnist train' (it holds the lock {FileName}); wait for it to finish or choose another --checkpoint-dir.", error);
        }
    }

    /// <summary>Releases the lock and deletes the lock file.</summary>
    public void Dispose() => _file.Dispose();
}
