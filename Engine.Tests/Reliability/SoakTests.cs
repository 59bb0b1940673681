using System.Globalization;

using Engine.Tests.Mnist;
using global::Mnist;

namespace Engine.Tests.Reliability;

/// <summary>
/// Soak: <c>mnist train</c> runs three epochs as a child process while the test reads its resident memory (VmRSS in
/// /proc/PID/status) four times a second. After the first epoch (and its checkpoint) resident memory must stay within 5% of
/// what it was then, and the child's run report must show no gen-2 garbage collection after the first epoch.
/// CI trains on a subset; <c>ENGINE_SOAK_TRAIN_IMAGES</c> (default 10,000), <c>ENGINE_SOAK_TEST_IMAGES</c> (2,000) and
/// <c>ENGINE_SOAK_THREADS</c> (2) change it: 60000 and 10000 give three full epochs.
/// </summary>
[NonParallelizable]
public class SoakTests
{
    private const double Tolerance = 0.05;

    private static string Setting(string name, string fallback) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : fallback;

    [Test]
    public void ThreeEpochsKeepResidentMemoryFlatWithoutGenerationTwoCollections()
    {
        string trainImages = Setting("ENGINE_SOAK_TRAIN_IMAGES", "10000"), testImages = Setting("ENGINE_SOAK_TEST_IMAGES", "2000");
        string threads = Setting("ENGINE_SOAK_THREADS", "2");
        using var folder = ConsoleRunner.TemporaryDirectory();
        string checkpoints = folder["checkpoints"];
        using MnistProcess child = MnistProcess.Start("train", "--data", ConsoleRunner.Data, "--checkpoint-dir", checkpoints, "--epochs", "3",
            "--train-limit", trainImages, "--test-limit", testImages, "--threads", threads);

        var samples = new List<(TimeSpan At, long Bytes)>();
        var deadline = TimeSpan.FromMinutes(30);
        var period = TimeSpan.FromMilliseconds(250); // a 10,000-image epoch takes about a second on 2 cores
        for (int tick = 0; !child.HasExited; tick++)
        {
            if (ResidentBytes(child.Id) is { } bytes)
            {
                samples.Add((child.Elapsed, bytes));
            }
            TimeSpan next = period * (tick + 1) - child.Elapsed;
            if (next > TimeSpan.Zero)
            {
                Thread.Sleep(next);
            }
            Assert.That(child.Elapsed, Is.LessThan(deadline), "the soak run did not end");
        }
        Assert.That(child.WaitForExit(TimeSpan.FromMinutes(1)), Is.Zero, child.ToString());

        TimeSpan EpochEnd(int epoch) => child.Lines.Single(l => l.Text.StartsWith($"epoch {epoch}/3 ", StringComparison.Ordinal)).At;
        TimeSpan first = EpochEnd(1), last = EpochEnd(3); // each line is printed after the epoch's checkpoint is saved
        RunReport report = RunReport.FromJson(File.ReadAllText(Path.Combine(checkpoints, "report.json")));

        foreach ((TimeSpan at, long bytes) in samples)
        {
            int epoch = child.Lines.Count(l => l.Text.StartsWith("epoch ", StringComparison.Ordinal) && l.At < at) + 1;
            TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{at.TotalSeconds,6:F1} s  {bytes / 1e6,7:F1} MB  {(epoch <= 3 ? $"epoch {epoch}" : "report and plots")}"));
        }
        foreach (EpochReport epoch in report.Epochs)
        {
            TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"epoch {epoch.Epoch}: {epoch.Seconds:F1} s, resident {epoch.ResidentBytes / 1e6:F1} MB, allocated so far {epoch.AllocatedBytes / 1e6:F1} MB, gen-2 collections so far {epoch.Gen2Collections}"));
        }
        ProcessReport process = report.Process;
        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"at the end: peak resident {process.PeakResidentBytes / 1e6:F1} MB, collections gen0 {process.Gen0Collections} gen1 {process.Gen1Collections} gen2 {process.Gen2Collections}, allocated {process.AllocatedBytes / 1e6:F1} MB"));

        (TimeSpan At, long Bytes)[] after = samples.Where(s => s.At > first && s.At <= last).ToArray();
        Assert.That(after, Has.Length.GreaterThanOrEqualTo(3), "enough samples after the first epoch; train on more images");
        long reference = after[0].Bytes, highest = after.Max(s => s.Bytes), lowest = after.Min(s => s.Bytes);
        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{samples.Count} samples; after epoch 1: {after.Length} samples, {reference / 1e6:F1} MB first, {lowest / 1e6:F1} to {highest / 1e6:F1} MB ({(highest - lowest) * 100.0 / reference:F2}% of the first)"));
        Assert.That(highest, Is.LessThanOrEqualTo((long)(reference * (1 + Tolerance))), "resident memory grows after the first epoch");
        Assert.That(lowest, Is.GreaterThanOrEqualTo((long)(reference * (1 - Tolerance))), "resident memory is not flat after the first epoch");
        Assert.That(process.Gen2Collections, Is.EqualTo(report.Epochs[0].Gen2Collections), "gen-2 collections after the first epoch");
    }

    /// <summary>VmRSS of process <paramref name="id"/> in bytes, or null once it has ended.</summary>
    private static long? ResidentBytes(int id)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{id}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line["VmRSS:".Length..].Replace("kB", "", StringComparison.Ordinal).Trim(), CultureInfo.InvariantCulture) * 1024;
                }
            }
            return null; // a zombie has no VmRSS
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
