namespace Engine;

/// <summary>
/// How many threads the kernels may use, and the means to run a parallel loop without allocating.
/// Work is always split into chunks fixed by the problem size, never by the thread count, so results
/// are bit-identical for any <see cref="Threads"/>. One loop runs at a time per instance (a model's
/// layers run one after another); loops do not nest.
/// </summary>
public sealed class Workers
{
    private readonly Helper[] _helpers;
    private readonly ManualResetEventSlim _helpersDone = new(false);
    private Action<int>? _body;
    private int _chunks;
    private int _nextChunk;
    private int _pendingHelpers;
    private Exception? _failure;

    /// <summary>Creates a setting for <paramref name="threads"/> worker threads (default: every core).</summary>
    public Workers(int? threads = null)
    {
        int count = threads ?? Environment.ProcessorCount;
        if (count < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(threads), $"Expected at least 1 thread; received {count}.");
        }
        Threads = count;
        _helpers = new Helper[count - 1];
        for (int index = 0; index < _helpers.Length; index++)
        {
            _helpers[index] = new Helper(this);
        }
    }

    /// <summary>The number of worker threads (the calling thread is one of them).</summary>
    public int Threads { get; }

    /// <summary>
    /// Runs <paramref name="body"/> for every chunk index in [0, <paramref name="chunks"/>) on up to
    /// <see cref="Threads"/> threads and returns when all are done. Allocates nothing when
    /// <paramref name="body"/> is a cached delegate.
    /// </summary>
    public void For(int chunks, Action<int> body)
    {
        int helpers = Math.Min(Threads, chunks) - 1;
        if (helpers <= 0)
        {
            for (int chunk = 0; chunk < chunks; chunk++)
            {
                body(chunk);
            }
            return;
        }
        _body = body;
        _chunks = chunks;
        _nextChunk = -1;
        _failure = null;
        _pendingHelpers = helpers;
        _helpersDone.Reset();
        for (int index = 0; index < helpers; index++)
        {
            ThreadPool.UnsafeQueueUserWorkItem(_helpers[index], preferLocal: false);
        }
        RunChunks();
        _helpersDone.Wait();
        _body = null;
        if (_failure is Exception failure)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
    }

    private void RunChunks()
    {
        try
        {
            for (int chunk = Interlocked.Increment(ref _nextChunk); chunk < _chunks; chunk = Interlocked.Increment(ref _nextChunk))
            {
                _body!(chunk);
            }
        }
        catch (Exception error)
        {
            Interlocked.CompareExchange(ref _failure, error, null);
            _nextChunk = _chunks;
        }
    }

    private sealed class Helper(Workers owner) : IThreadPoolWorkItem
    {
        public void Execute()
        {
            owner.RunChunks();
            if (Interlocked.Decrement(ref owner._pendingHelpers) == 0)
            {
                owner._helpersDone.Set();
            }
        }
    }
}
