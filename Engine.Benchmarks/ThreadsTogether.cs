using System.Diagnostics;

namespace Engine.Benchmarks;

/// <summary>Runs the same work on several threads started together, for the machine measurements (<see cref="FmaPeak"/>, <see cref="MemoryScaling"/>).</summary>
public static class ThreadsTogether
{
    /// <summary>
    /// Seconds the slowest of <paramref name="threads"/> threads took to run <paramref name="work"/> (given the thread's
    /// index), all released at once by a barrier; a thread's time starts after the barrier.
    /// </summary>
    public static double Slowest(int threads, Action<int> work)
    {
        var seconds = new double[threads];
        var workers = new Thread[threads];
        using var start = new Barrier(threads);
        for (int t = 0; t < threads; t++)
        {
            int index = t;
            workers[t] = new Thread(() =>
            {
                start.SignalAndWait();
                long begin = Stopwatch.GetTimestamp();
                work(index);
                seconds[index] = Stopwatch.GetElapsedTime(begin).TotalSeconds;
            });
            workers[t].Start();
        }
        foreach (var worker in workers)
        {
            worker.Join();
        }
        return seconds.Max();
    }
}
