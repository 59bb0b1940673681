using System.Diagnostics;
using System.Globalization;

namespace Engine.Benchmarks;

/// <summary>
/// How long a cache line takes to move from one core to another: two threads hand a counter back and forth, each
/// waiting for the other's write before making its own, so every step is one line crossing between the cores. The
/// round trip (two crossings) is printed per round; what a thread pays when it first reads data another core wrote.
/// <c>dotnet run -c Release --project Engine.Benchmarks -- core-handoff [rounds]</c>.
/// </summary>
public static class CoreHandoff
{
    /// <summary>Round trips per round: about a second at a few hundred ns each.</summary>
    private const int RoundTrips = 2_000_000;

    /// <summary>Prints the round trip of <paramref name="rounds"/> rounds, in ns.</summary>
    public static void Run(int rounds)
    {
        if (rounds < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(rounds), $"core-handoff expects rounds >= 1; received {rounds}.");
        }
        if (Environment.ProcessorCount < 2)
        {
            Console.WriteLine($"core-handoff needs 2 processors; this machine has {Environment.ProcessorCount}.");
            return;
        }
        Console.WriteLine($"A cache line handed between two threads, {RoundTrips:N0} round trips a round; {Environment.ProcessorCount} processors");
        for (int round = 0; round < rounds; round++)
        {
            double ns = RoundTrip();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round + 1}: {ns:F1} ns a round trip, {ns / 2:F1} ns a crossing"));
        }
    }

    /// <summary>Mean ns of one round trip: the caller writes the even values, the other thread the odd ones.</summary>
    private static double RoundTrip()
    {
        var line = new long[16]; // the counter at [8], a cache line from the array's header
        var other = new Thread(() =>
        {
            for (long value = 1; value < 2L * RoundTrips; value += 2)
            {
                while (Volatile.Read(ref line[8]) != value)
                {
                }
                Volatile.Write(ref line[8], value + 1);
            }
        });
        other.Start();
        long start = Stopwatch.GetTimestamp();
        for (long value = 0; value < 2L * RoundTrips; value += 2)
        {
            while (Volatile.Read(ref line[8]) != value)
            {
            }
            Volatile.Write(ref line[8], value + 1);
        }
        other.Join();
        return Stopwatch.GetElapsedTime(start).TotalNanoseconds / RoundTrips;
    }
}
