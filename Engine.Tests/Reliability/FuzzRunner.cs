using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Engine.Tests.Reliability;

/// <summary>
/// How long a fuzz run lasts and which inputs it draws. Read from the environment: <c>ENGINE_FUZZ_SEED</c> (default: a
/// fresh seed, printed), <c>ENGINE_FUZZ_SECONDS</c> and <c>ENGINE_FUZZ_INPUTS</c>; the run stops at whichever limit comes
/// first. Setting only <c>ENGINE_FUZZ_INPUTS</c> lifts the time limit.
/// </summary>
internal sealed record FuzzBudget(ulong Seed, double Seconds, long Inputs)
{
    public static FuzzBudget FromEnvironment(double defaultSeconds)
    {
        string? seedText = Environment.GetEnvironmentVariable("ENGINE_FUZZ_SEED");
        string? secondsText = Environment.GetEnvironmentVariable("ENGINE_FUZZ_SECONDS");
        string? inputsText = Environment.GetEnvironmentVariable("ENGINE_FUZZ_INPUTS");
        ulong seed = seedText is { Length: > 0 } ? ulong.Parse(seedText, CultureInfo.InvariantCulture) : (ulong)Random.Shared.NextInt64();
        long inputs = inputsText is { Length: > 0 } ? long.Parse(inputsText, CultureInfo.InvariantCulture) : long.MaxValue;
        double seconds = secondsText is { Length: > 0 }
            ? double.Parse(secondsText, CultureInfo.InvariantCulture)
            : inputsText is { Length: > 0 } ? double.PositiveInfinity : defaultSeconds;
        return new FuzzBudget(seed, seconds, inputs);
    }
}

/// <summary>A fuzz input that broke the contract; the message names what went wrong.</summary>
internal sealed class FuzzViolation(string message) : Exception(message);

/// <summary>What one input did: loaded or threw, and how much the reader allocated.</summary>
internal readonly record struct Attempt<T>(T? Result, Exception? Error, long AllocatedBytes);

/// <summary>The counts of a finished run.</summary>
internal sealed class FuzzTally
{
    public required ulong Seed { get; init; }
    public long Inputs { get; set; }
    public double Seconds { get; set; }
    public SortedDictionary<string, long> Outcomes { get; } = new(StringComparer.Ordinal);
    public long MaxAllocatedBytes { get; set; }

    public override string ToString()
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"seed {Seed}: {Inputs:N0} inputs in {Seconds:F1} s ({Inputs / Math.Max(Seconds, 1e-9):N0}/s); largest allocation by one input {MaxAllocatedBytes:N0} bytes");
        foreach ((string outcome, long count) in Outcomes.OrderByDescending(pair => pair.Value))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  {count,12:N0}  {outcome}");
        }
        return text.ToString();
    }
}

/// <summary>
/// Runs fuzz inputs on a worker thread until the budget is spent, with a watchdog that fails the run when one input
/// takes longer than the per-input timeout (a hang). The worker is a background thread, so a hung reader cannot keep
/// the test process alive.
/// </summary>
internal static class FuzzRunner
{
    /// <summary>
    /// Runs <paramref name="oneInput"/> for input 0, 1, 2, ... and counts the outcome names it returns. It throws
    /// <see cref="FuzzViolation"/> (or anything else) to fail the run; the failure names the seed and the input index.
    /// </summary>
    public static FuzzTally Run(string name, FuzzBudget budget, TimeSpan perInputTimeout, Func<long, FuzzTally, string> oneInput)
    {
        var tally = new FuzzTally { Seed = budget.Seed };
        TestContext.Out.WriteLine($"{name}: seed {budget.Seed} (reproduce: ENGINE_FUZZ_SEED={budget.Seed}), budget {budget.Seconds} s / {budget.Inputs} inputs");
        long current = -1;
        long currentStart = Stopwatch.GetTimestamp();
        Exception? failure = null;
        long failedIndex = -1;
        var clock = Stopwatch.StartNew();
        var worker = new Thread(() =>
        {
            for (long index = 0; index < budget.Inputs && clock.Elapsed.TotalSeconds < budget.Seconds; index++)
            {
                Volatile.Write(ref currentStart, Stopwatch.GetTimestamp());
                Volatile.Write(ref current, index);
                try
                {
                    string outcome = oneInput(index, tally);
                    tally.Outcomes[outcome] = tally.Outcomes.GetValueOrDefault(outcome) + 1;
                    tally.Inputs = index + 1;
                }
                catch (Exception error)
                {
                    failure = error;
                    failedIndex = index;
                    return;
                }
            }
        }, maxStackSize: 16 << 20) { IsBackground = true, Name = name };
        worker.Start();
        while (!worker.Join(TimeSpan.FromMilliseconds(250)))
        {
            TimeSpan running = Stopwatch.GetElapsedTime(Volatile.Read(ref currentStart));
            if (running > perInputTimeout)
            {
                Assert.Fail($"{name}: input {Volatile.Read(ref current)} of seed {budget.Seed} has run for {running.TotalSeconds:F1} s (timeout {perInputTimeout.TotalSeconds} s): a hang.");
            }
        }
        tally.Seconds = clock.Elapsed.TotalSeconds;
        TestContext.Out.WriteLine(tally.ToString());
        if (failure is not null)
        {
            Assert.Fail($"{name}: input {failedIndex} of seed {budget.Seed} (reproduce: ENGINE_FUZZ_SEED={budget.Seed} ENGINE_FUZZ_INPUTS={failedIndex + 1}): {failure.GetType().Name}: {failure.Message}");
        }
        return tally;
    }

    /// <summary>Runs <paramref name="load"/> and measures what it allocates on this thread.</summary>
    public static Attempt<T> Measure<T>(Func<T> load)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            T result = load();
            return new Attempt<T>(result, null, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        catch (Exception error)
        {
            return new Attempt<T>(default, error, GC.GetAllocatedBytesForCurrentThread() - before);
        }
    }

    /// <summary>
    /// Checks a thrown exception against the contract: of a documented type, with a non-empty message; returns the
    /// outcome name (the type and the message's leading plain words).
    /// </summary>
    public static string Rejection(Exception error, Func<Exception, bool> documented, Func<Exception, string> reason, string input)
    {
        if (!documented(error))
        {
            throw new FuzzViolation($"undocumented {error.GetType().FullName} for {input}: {error.Message}\n{error.StackTrace}");
        }
        if (string.IsNullOrWhiteSpace(error.Message))
        {
            throw new FuzzViolation($"{error.GetType().Name} with an empty message for {input}");
        }
        return $"rejected: {error.GetType().Name}: {Normalize(reason(error))}";
    }

    /// <summary>The message's leading plain words (up to 8, stopping at the first value), so that outcomes group by kind.</summary>
    private static string Normalize(string text)
    {
        var words = new List<string>(8);
        foreach (string word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            bool value = word.Any(char.IsAsciiDigit) && !word.Contains('-'); // 42, 0x1f, a digest; but SHA-256
            if (words.Count == 8 || value || !char.IsAsciiLetter(word[0])
                || !word.All(character => char.IsAsciiLetterOrDigit(character) || character is '-' or ':' or '/' or ','))
            {
                break;
            }
            words.Add(word);
        }
        return string.Join(' ', words).TrimEnd(':', ',');
    }
}

/// <summary>A read-only stream that cannot seek, like a pipe: the readers' non-seekable path.</summary>
internal sealed class NonSeekableStream(byte[] bytes) : Stream
{
    private readonly MemoryStream _inner = new(bytes, writable: false);

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
    public override int Read(Span<byte> buffer) => _inner.Read(buffer);
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
