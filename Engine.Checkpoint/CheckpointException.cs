namespace Engine.Checkpoint;

/// <summary>
/// The base of every checkpoint error: a damaged file (<see cref="CheckpointCorruptException"/>), a file
/// written by a newer format (<see cref="CheckpointVersionException"/>), or a checkpoint that does not fit
/// the model it is restored into (<see cref="CheckpointMismatchException"/>).
/// </summary>
public class CheckpointException : Exception
{
    /// <summary>Creates an exception with a message.</summary>
    public CheckpointException(string message) : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the exception that caused it.</summary>
    public CheckpointException(string message, Exception? innerException) : base(message, innerException)
    {
    }
}
