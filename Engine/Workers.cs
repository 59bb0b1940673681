namespace Engine;

/// <summary>
/// How many threads the kernels may use, and the means to run a parallel loop without allocating.
/// Work is always split into chunks fixed by the problem size, never by the thread count, so results
/// are bit-identical for any <see cref="Threads"/>. One loop runs at a time per instance (a model's
/// layers run one after another); loops do not nest.
/// </summary>
/// <remarks>
/// The helpers are dedicated background threads that spin for a short while after each loop (a
/// training step runs dozens of loops a few hundred microseconds apart, and waking a sleeping thread
/// costs tens of microseconds each time), then sleep until the next loop. They end when the instance
/// is collected.
/// </remarks>
public sealed class Workers
{
    private readonly Crew? _crew;

    /// <summary>Creates a setting for <paramref name="threads"/> worker threads (default: every core).</summary>
    public Workers(int? threads = null)
    {
        int count = threads ?? Environment.ProcessorCount;
        if (count < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(threads), $"Expected at least 1 thread; received {count}.");
        }
        Threads = count;
        _crew = new Crew(count - 1);
    }

    /// <summary>Ends the helper threads once nothing refers to this instance.</summary>
    ~Workers() => _crew?.Stop(); // null when the constructor threw

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
        _crew!.Run(helpers, chunks, body);
        GC.KeepAlive(this);
    }

    /// <summary>
    /// Runs <paramref name="body"/>(first, count) over ranges that cover [0, <paramref name="items"/>) once, on up to
    /// <see cref="Threads"/> threads, and returns when all are done. Which ranges there are depends on timing, so use it
    /// only where the results do not depend on how the items are grouped (each item's work is its own: a forward
    /// example by example). Worker w of T starts on its own share, items [w·items/T, (w+1)·items/T) (the share
    /// <see cref="For"/> gives it of equal chunks, so an item stays on the same core from layer to layer), taking it from
    /// the front in ranges of at most <paramref name="grain"/> items and at most half of what is left; a worker whose
    /// share is done takes the back half of the largest share still open. At the end of a loop a thread waits for at most
    /// one small range of another's, where equal chunks can leave it waiting for most of one chunk. On one thread the
    /// body runs once, over all the items. Allocates nothing when <paramref name="body"/> is a cached delegate.
    /// </summary>
    public void ForRanges(int items, int grain, Action<int, int> body)
    {
        if (grain < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(grain), $"Expected a grain of at least 1 item; received {grain}.");
        }
        int helpers = Math.Min(Threads, items) - 1;
        if (helpers <= 0)
        {
            if (items > 0)
            {
                body(0, items);
            }
            return;
        }
        _crew!.RunRanges(helpers, items, grain, body);
        GC.KeepAlive(this);
    }

    /// <summary>
    /// The first of worker <paramref name="worker"/>'s share of <paramref name="items"/> items (or chunks) among
    /// <paramref name="workers"/>: worker w owns [ShareStart(w), ShareStart(w + 1)). A batch of 100 in 8 chunks has chunks
    /// of 12 and 13 examples in turn; two workers own chunks 0-3 and 4-7, 50 examples each.
    /// </summary>
    internal static int ShareStart(int worker, int workers, int items) => (int)((long)items * worker / workers);

    /// <summary>The helper threads and the loop they share (no reference back to <see cref="Workers"/>).</summary>
    private sealed class Crew
    {
        /// <summary>Spin iterations (Thread.SpinWait(1) each) before a helper or the caller blocks: about 0.2-0.5 ms.</summary>
        private const int SpinLimit = 20_000;

        private readonly Thread?[] _threads;
        private readonly ManualResetEventSlim[] _wake; // one per helper: a shared one could be reset under a helper about to wait
        private readonly ManualResetEventSlim _done = new(false);
        private Action<int>? _body;
        private Action<int, int>? _rangeBody; // instead of _body: ForRanges
        private int _chunks;           // chunks, or items of ForRanges
        private int _grain;
        private long[] _ranges = new long[8 * 8]; // ForRanges: per worker, a cache line apart, its open range: front | back << 32
        private int _workers;          // threads of the current loop: the caller and its helpers
        private int[] _claimed = new int[64]; // per chunk: 1 once a thread has taken it
        private int _slots;            // helpers the current loop still takes (a helper joins by taking one)
        private int _pendingHelpers;   // helpers of the current loop not finished yet
        private int _generation;       // one more per loop; helpers wait for it to change
        private volatile bool _stopped;
        private Exception? _failure;

        public Crew(int helpers)
        {
            _threads = new Thread?[helpers];
            _wake = new ManualResetEventSlim[helpers];
            for (int index = 0; index < helpers; index++)
            {
                _wake[index] = new ManualResetEventSlim(false);
            }
        }

        public void Run(int helpers, int chunks, Action<int> body)
        {
            _body = body;
            if (_claimed.Length < chunks)
            {
                _claimed = new int[chunks];
            }
            Array.Clear(_claimed, 0, chunks);
            RunLoop(helpers, chunks);
        }

        public void RunRanges(int helpers, int items, int grain, Action<int, int> body)
        {
            _rangeBody = body;
            _grain = grain;
            int workers = helpers + 1;
            if (_ranges.Length < workers * LineLongs)
            {
                _ranges = new long[workers * LineLongs];
            }
            for (int worker = 0; worker < workers; worker++)
            {
                _ranges[worker * LineLongs] = Pack(ShareStart(worker, workers, items), ShareStart(worker + 1, workers, items));
            }
            RunLoop(helpers, items);
        }

        /// <summary>Longs per cache line: the workers' ranges sit a line apart, so that claiming one does not slow the others.</summary>
        private const int LineLongs = 8;

        private static long Pack(int front, int back) => (uint)front | ((long)back << 32);

        private void RunLoop(int helpers, int chunks)
        {
            StartThreads(helpers);
            _chunks = chunks;
            _workers = helpers + 1;
            _failure = null;
            _slots = helpers;
            _pendingHelpers = helpers;
            _done.Reset();
            Interlocked.Increment(ref _generation); // publishes the fields above (full fence)
            WakeAll();
            RunChunks(0);
            for (int spin = 0; Volatile.Read(ref _pendingHelpers) != 0; spin++)
            {
                if (spin < SpinLimit)
                {
                    Thread.SpinWait(1);
                }
                else
                {
                    _done.Wait();
                }
            }
            _body = null;
            _rangeBody = null;
            if (_failure is Exception failure)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            }
        }

        public void Stop()
        {
            _stopped = true;
            Interlocked.Increment(ref _generation);
            WakeAll();
        }

        private void WakeAll()
        {
            for (int index = 0; index < _threads.Length && Volatile.Read(ref _threads[index]) is not null; index++)
            {
                _wake[index].Set();
            }
        }

        private void StartThreads(int helpers)
        {
            for (int index = 0; index < helpers; index++)
            {
                if (_threads[index] is null)
                {
                    int seen = Volatile.Read(ref _generation); // the thread joins from the next loop on
                    ManualResetEventSlim wake = _wake[index];
                    var thread = new Thread(() => HelperLoop(seen, wake), maxStackSize: 256 * 1024)
                    {
                        IsBackground = true,
                        Name = $"Engine worker {index + 1}",
                    };
                    thread.Start();
                    _threads[index] = thread;
                }
            }
        }

        private void HelperLoop(int seen, ManualResetEventSlim wake)
        {
            while (true)
            {
                int spin = 0;
                int generation;
                while ((generation = Volatile.Read(ref _generation)) == seen)
                {
                    if (spin++ < SpinLimit)
                    {
                        Thread.SpinWait(1);
                        continue;
                    }
                    wake.Reset();
                    Interlocked.MemoryBarrier();
                    if (Volatile.Read(ref _generation) == seen)
                    {
                        wake.Wait();
                    }
                    spin = 0;
                }
                seen = generation;
                if (_stopped)
                {
                    return;
                }
                // A helper that wakes late may take a slot of a later loop: it then works for that one.
                int slot = Interlocked.Decrement(ref _slots);
                if (slot >= 0)
                {
                    RunChunks(slot + 1);
                    if (Interlocked.Decrement(ref _pendingHelpers) == 0)
                    {
                        _done.Set();
                    }
                }
            }
        }

        /// <summary>
        /// Worker <paramref name="worker"/> (0 the caller) first takes its own chunks (<see cref="ShareStart"/>) in order,
        /// so that a chunk of examples stays on the same core from layer to layer, then any chunk still untaken, from the last;
        /// or, in <see cref="RunRanges"/>, its share's ranges and then others' (<see cref="RunRangeShares"/>).
        /// </summary>
        private void RunChunks(int worker)
        {
            try
            {
                if (_rangeBody is not null)
                {
                    RunRangeShares(worker);
                    return;
                }
                int chunks = _chunks, workers = _workers;
                for (int chunk = ShareStart(worker, workers, chunks); chunk < ShareStart(worker + 1, workers, chunks); chunk++)
                {
                    if (Interlocked.Exchange(ref _claimed[chunk], 1) == 0)
                    {
                        _body!(chunk);
                    }
                }
                for (int chunk = chunks - 1; chunk >= 0; chunk--) // from the end: the owners work from the start
                {
                    if (Volatile.Read(ref _claimed[chunk]) == 0 && Interlocked.Exchange(ref _claimed[chunk], 1) == 0)
                    {
                        _body!(chunk);
                    }
                }
            }
            catch (Exception error)
            {
                Interlocked.CompareExchange(ref _failure, error, null);
                for (int chunk = 0; chunk < _claimed.Length; chunk++)
                {
                    Volatile.Write(ref _claimed[chunk], 1);
                }
                for (int other = 0; other < _workers; other++)
                {
                    Volatile.Write(ref _ranges[other * LineLongs], 0);
                }
            }
        }

        /// <summary>
        /// <see cref="Workers.ForRanges"/> for worker <paramref name="worker"/>: ranges from the front of its own open range
        /// (at most the grain, at most half of what is open, at least one item), and when that is empty, the back half of the
        /// largest open range of another worker, which becomes its own.
        /// </summary>
        private void RunRangeShares(int worker)
        {
            ref long own = ref _ranges[worker * LineLongs];
            while (true)
            {
                long range = Volatile.Read(ref own);
                int front = (int)range, back = (int)(range >> 32);
                if (front < back)
                {
                    int count = Math.Min(_grain, Math.Max(1, (back - front) / 2));
                    if (Interlocked.CompareExchange(ref own, Pack(front + count, back), range) == range)
                    {
                        _rangeBody!(front, count);
                    }
                    continue;
                }
                if (!Steal(worker, ref own))
                {
                    return;
                }
            }
        }

        /// <summary>Moves the back half (at least one item) of the largest open range of another worker into <paramref name="own"/>, which is empty; false when every range is empty.</summary>
        private bool Steal(int worker, ref long own)
        {
            while (true)
            {
                int victim = -1, largest = 0;
                long seen = 0;
                for (int other = 0; other < _workers; other++)
                {
                    long range = Volatile.Read(ref _ranges[other * LineLongs]);
                    int open = (int)(range >> 32) - (int)range;
                    if (other != worker && open > largest)
                    {
                        (victim, largest, seen) = (other, open, range);
                    }
                }
                if (victim < 0)
                {
                    return false;
                }
                int front = (int)seen, back = (int)(seen >> 32), take = (back - front + 1) / 2;
                if (Interlocked.CompareExchange(ref _ranges[victim * LineLongs], Pack(front, back - take), seen) == seen)
                {
                    Volatile.Write(ref own, Pack(back - take, back));
                    return true;
                }
            }
        }
    }
}
