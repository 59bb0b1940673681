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
    public void OwnChunksGoBackAndForthSoThatAlternatingSizesBalance(int chunks, int workers, int examples)
    {
        // Each worker's own chunks, round by round, partition the chunks, and no worker's share exceeds another's by more
        // than one chunk; with two workers and sizes that alternate (100 examples in 8 chunks: 12, 13, 12, ...) the
        // shares are equal.
        int Size(int chunk) => (int)((long)examples * (chunk + 1) / chunks) - (int)((long)examples * chunk / chunks);
        var owned = new List<int>[workers];
        for (int worker = 0; worker < workers; worker++)
        {
            owned[worker] = [];
            for (int round = 0; round * workers < chunks; round++)
            {
                int chunk = Workers.OwnChunk(worker, workers, round);
                if (chunk < chunks)
                {
                    owned[worker].Add(chunk);
                }
            }
        }
        Assert.That(owned.SelectMany(c => c).Order(), Is.EqualTo(Enumerable.Range(0, chunks)), "every chunk owned once");
        int[] shares = owned.Select(c => c.Sum(Size)).ToArray();
        Assert.That(shares.Max() - shares.Min(), Is.LessThanOrEqualTo(examples / chunks + 1), $"shares {string.Join(", ", shares)}");
        if (chunks == 8 && workers == 2)
        {
            Assert.That(owned[0], Is.EqualTo(new[] { 0, 3, 4, 7 }));
            Assert.That(owned[1], Is.EqualTo(new[] { 1, 2, 5, 6 }));
            Assert.That(shares[0], Is.EqualTo(shares[1]), "alternating sizes split evenly");
        }
    }

    [Test]
    public void RejectsZeroThreads()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new Workers(0));
        Assert.That(error!.Message, Does.Contain("at least 1").And.Contain("received 0"));
    }
}
