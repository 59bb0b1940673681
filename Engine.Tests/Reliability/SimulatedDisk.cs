namespace Engine.Tests.Reliability;

/// <summary>
/// Where no file system can be mounted (see <see cref="ScratchMount"/>): the files a checkpoint manager writes go
/// through <see cref="Wrap"/>, which fails as a full disk does, part-way through a write, once
/// <see cref="Capacity"/> bytes have been written in all, or as a read-only folder does once
/// <see cref="ReadOnly"/> is set. The bytes before the failure reach the real temporary file.
/// </summary>
internal sealed class SimulatedDisk
{
    private long _written;

    /// <summary>Bytes that may be written in all before writes fail with "No space left on device".</summary>
    public long Capacity { get; init; } = long.MaxValue;

    /// <summary>When set, the next write fails with "Access to the path ... is denied".</summary>
    public bool ReadOnly { get; set; }

    /// <summary>For <c>CheckpointManager.WrapWrites</c>.</summary>
    public Stream Wrap(FileStream file) => new FailingStream(this, file);

    private sealed class FailingStream(SimulatedDisk disk, FileStream file) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => file.Length;

        public override long Position
        {
            get => file.Position;
            set => throw new NotSupportedException();
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (disk.ReadOnly)
            {
                throw new UnauthorizedAccessException($"Access to the path '{file.Name}' is denied.");
            }
            long room = Math.Max(0, disk.Capacity - disk._written);
            int fits = (int)Math.Min(room, buffer.Length);
            file.Write(buffer[..fits]);
            disk._written += fits;
            if (fits < buffer.Length)
            {
                throw new IOException($"No space left on device : '{file.Name}'");
            }
        }

        public override void Flush() => file.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
