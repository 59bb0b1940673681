namespace Engine;

/// <summary>
/// How many threads the kernels may use. Work is always split into chunks fixed by the problem
/// size, never by the thread count, so results are bit-identical for any <see cref="Threads"/>.
/// </summary>
public sealed class Workers
{
    private ParallelOptions _options;

    /// <summary>Creates a setting for <paramref name="threads"/> worker threads (default: every core).</summary>
    public Workers(int? threads = null)
    {
        int count = threads ?? Environment.ProcessorCount;
        if (count < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(threads), $"Expected at least 1 thread; received {count}.");
        }
        Threads = count;
        _options = new ParallelOptions { MaxDegreeOfParallelism = count };
    }

    /// <summary>The number of worker threads.</summary>
    public int Threads { get; }

    /// <summary>Runs <paramref name="body"/> for every chunk index in [0, <paramref name="chunks"/>).</summary>
    public void For(int chunks, Action<int> body)
    {
        if (chunks == 1 || Threads == 1)
        {
            for (int chunk = 0; chunk < chunks; chunk++)
            {
                body(chunk);
            }
            return;
        }
        Parallel.For(0, chunks, _options, body);
    }
}
