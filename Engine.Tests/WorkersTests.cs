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

    [Test]
    public void RejectsZeroThreads()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new Workers(0));
        Assert.That(error!.Message, Does.Contain("at least 1").And.Contain("received 0"));
    }
}
