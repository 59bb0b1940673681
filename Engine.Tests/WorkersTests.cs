namespace Engine.Tests;

public class WorkersTests
{
    [Test]
    public void RunsEveryChunkExactlyOnceOnSeveralThreads()
    {
        var workers = new Workers(3);
        int[] hits = new int[37];
        Action<int> body = chunk => Interlocked.Increment(ref hits[chunk]);
        for (int round = 0; round < 50; round++)
        {
            workers.For(hits.Length, body);
        }
        Assert.That(hits, Is.All.EqualTo(50));
    }

    [Test]
    public void ALoopWithACachedBodyAllocatesNothingOnTheCallingThread()
    {
        var workers = new Workers(2);
        long sum = 0;
        Action<int> body = chunk => Interlocked.Add(ref sum, chunk);
        for (int round = 0; round < 100; round++)
        {
            workers.For(8, body); // warm-up: the wait handle and the pool's queues are created lazily
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int round = 0; round < 100; round++)
        {
            workers.For(8, body);
        }
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.EqualTo(0));
        Assert.That(Interlocked.Read(ref sum), Is.EqualTo(200 * 28));
    }

    [Test]
    public void AnExceptionInAChunkReachesTheCaller()
    {
        var workers = new Workers(2);
        var error = Assert.Throws<InvalidOperationException>(() => workers.For(4, chunk =>
        {
            if (chunk == 2)
            {
                throw new InvalidOperationException("chunk 2 failed");
            }
        }));
        Assert.That(error!.Message, Is.EqualTo("chunk 2 failed"));
    }

    [Test]
    public void ManyLoopsOfEverySizeFinishWithHelpersThatSleepInBetween()
    {
        // Four threads (three helpers), loops that use one to all of them, and pauses long enough for
        // the helpers to stop spinning and sleep: every loop must finish and run each chunk once.
        var workers = new Workers(4);
        var loops = Task.Run(() =>
        {
            int[] hits = new int[6];
            Action<int> body = chunk => Interlocked.Increment(ref hits[chunk]);
            var expected = new int[hits.Length];
            for (int round = 0; round < 3000; round++)
            {
                int chunks = 1 + round % hits.Length;
                workers.For(chunks, body);
                for (int chunk = 0; chunk < chunks; chunk++)
                {
                    expected[chunk]++;
                }
                if (round % 250 == 0)
                {
                    Thread.Sleep(30);
                }
            }
            return (hits, expected);
        });
        Assert.That(loops.Wait(TimeSpan.FromSeconds(60)), Is.True, "the loops did not finish within 60 s (a helper missed a wake-up)");
        Assert.That(loops.Result.hits, Is.EqualTo(loops.Result.expected));
    }

    [TestCase(8, 2, 100)] // the model's batch: chunks of 12 and 13 examples in turn
    [TestCase(8, 2, 60)]
    [TestCase(7, 2, 100)]
    [TestCase(8, 3, 100)]
    public void OwnedChunksAreRunsThatPartitionTheChunksEvenly(int chunks, int workers, int examples)
    {
        // Each worker owns a run of consecutive chunks; the runs partition the chunks, no worker owns more than one chunk
        // more than another, and with two workers and 100 examples in 8 chunks (12, 13, 12, ...) the shares are equal.
        int Size(int chunk) => (int)((long)examples * (chunk + 1) / chunks) - (int)((long)examples * chunk / chunks);
        var owned = Enumerable.Range(0, workers)
            .Select(worker => Enumerable.Range(Workers.ShareStart(worker, workers, chunks),
                Workers.ShareStart(worker + 1, workers, chunks) - Workers.ShareStart(worker, workers, chunks)).ToList())
            .ToArray();
        Assert.That(owned.SelectMany(c => c), Is.EqualTo(Enumerable.Range(0, chunks)), "every chunk owned once, in order");
        int[] counts = owned.Select(c => c.Count).ToArray();
        Assert.That(counts.Max() - counts.Min(), Is.LessThanOrEqualTo(1), $"chunks per worker {string.Join(", ", counts)}");
        if (chunks == 8 && workers == 2 && examples == 100)
        {
            Assert.That(owned[0], Is.EqualTo(new[] { 0, 1, 2, 3 }));
            Assert.That(owned.Select(c => c.Sum(Size)), Is.EqualTo(new[] { 50, 50 }), "alternating sizes split evenly");
        }
    }

    [TestCase(1, 100, 6)]
    [TestCase(2, 100, 6)]
    [TestCase(2, 7, 1)]
    [TestCase(3, 100, 4)]
    [TestCase(4, 3, 2)]
    [TestCase(2, 1, 5)]
    [TestCase(2, 0, 5)]
    public void RangesCoverEveryItemOnceWithinTheGrain(int threads, int items, int grain)
    {
        // Bodies that take uneven time (so that workers steal from each other): every item in exactly one range, no
        // range empty, loop after loop; on several threads no range longer than the grain, on one the whole loop at once.
        var workers = new Workers(threads);
        int[] hits = new int[items];
        int tooLong = 0, empty = 0, ranges = 0;
        Action<int, int> body = (first, count) =>
        {
            Interlocked.Increment(ref ranges);
            if (count > grain && threads > 1) Interlocked.Increment(ref tooLong);
            if (count < 1) Interlocked.Increment(ref empty);
            for (int item = first; item < first + count; item++)
            {
                Interlocked.Increment(ref hits[item]);
                Thread.SpinWait(item % 3 == 0 ? 2000 : 50);
            }
        };
        for (int round = 0; round < 200; round++)
        {
            workers.ForRanges(items, grain, body);
        }
        Assert.That(hits, Is.All.EqualTo(200));
        Assert.That(tooLong, Is.Zero, "ranges longer than the grain");
        Assert.That(empty, Is.Zero, "empty ranges");
        if (threads == 1 && items > 0)
        {
            Assert.That(ranges, Is.EqualTo(200), "one thread runs the whole loop as one range");
        }
    }

    [Test]
    public void ARangeLoopWithACachedBodyAllocatesNothingAndReportsAFailure()
    {
        var workers = new Workers(2);
        long sum = 0;
        Action<int, int> body = (first, count) => Interlocked.Add(ref sum, count);
        for (int round = 0; round < 100; round++)
        {
            workers.ForRanges(100, 6, body);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int round = 0; round < 100; round++)
        {
            workers.ForRanges(100, 6, body);
        }
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.EqualTo(0));
        Assert.That(Interlocked.Read(ref sum), Is.EqualTo(200 * 100));
        var error = Assert.Throws<InvalidOperationException>(() => workers.ForRanges(100, 6, (first, count) =>
        {
            if (first <= 60 && 60 < first + count)
            {
                throw new InvalidOperationException("item 60 failed");
            }
        }));
        Assert.That(error!.Message, Is.EqualTo("item 60 failed"));
        var grain = Assert.Throws<ArgumentOutOfRangeException>(() => workers.ForRanges(10, 0, body));
        Assert.That(grain!.Message, Does.Contain("at least 1").And.Contain("received 0"));
    }

    [Test]
    public void RejectsZeroThreads()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new Workers(0));
        Assert.That(error!.Message, Does.Contain("at least 1").And.Contain("received 0"));
    }
}
