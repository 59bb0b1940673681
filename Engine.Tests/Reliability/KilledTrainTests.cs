using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

using Engine.Checkpoint;
using Engine.Tests.Mnist;
using global::Mnist;

namespace Engine.Tests.Reliability;

/// <summary>
/// Killed writers: <c>mnist train</c> runs as a child process on a small subset and is killed with SIGKILL at random
/// moments: from its start, while it trains, inside a checkpoint write, and as a checkpoint is committed (the test
/// watches the folder for the temporary files). After every kill the latest checkpoint loads and is the last epoch the child finished (or the one whose
/// save had just been committed), the next run (<c>train --resume</c>) continues from it, and no temporary file is
/// taken for a checkpoint. A last resume runs to the end and must give the weights of an uninterrupted run, bit for bit.
/// <c>ENGINE_KILLS</c> (default 20) and <c>ENGINE_KILL_SEED</c> (default: a fresh seed, printed) change the run.
/// </summary>
[NonParallelizable]
public partial class KilledTrainTests
{
    private const int Seed = 5;

    /// <summary>Far more epochs than a run lives: every run is killed before it ends.</summary>
    private const string Endless = "100000";

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [GeneratedRegex(@"^epoch (\d+)/\d+ .* saved ckpt-(\d+)\.ckpt$")]
    private static partial Regex EpochLine();

    [GeneratedRegex(@"^Resuming from (ckpt-\d+\.ckpt) at epoch (\d+), batch (\d+) ")]
    private static partial Regex ResumingLine();

    private static string[] Arguments(string checkpoints, bool resume, string epochs) =>
    [
        "train", "--data", SmallMnist.Directory, "--checkpoint-dir", checkpoints, "--train-limit", "100", "--test-limit", "100",
        "--threads", "1", "--seed", Seed.ToString(CultureInfo.InvariantCulture), "--epochs", epochs, .. resume ? new[] { "--resume" } : [],
    ];

    private static string[] Temporaries(string checkpoints, string pattern) =>
        Directory.Exists(checkpoints) ? Directory.GetFiles(checkpoints, pattern) : [];

    /// <summary>Polls <paramref name="condition"/> every millisecond until it holds; fails when the child ends or takes too long.</summary>
    private static void WaitUntil(MnistProcess child, Func<bool> condition, string context)
    {
        while (!condition())
        {
            if (child.HasExited || child.Elapsed > Patience)
            {
                Assert.Fail($"{context}: the child {(child.HasExited ? "ended" : "stalled")} before the moment to kill it: {child}");
            }
            Thread.Sleep(1);
        }
    }

    [Test]
    public void EveryKillLeavesTheLastCompleteEpochForResume()
    {
        int kills = Environment.GetEnvironmentVariable("ENGINE_KILLS") is { Length: > 0 } k ? int.Parse(k, CultureInfo.InvariantCulture) : 20;
        int seed = Environment.GetEnvironmentVariable("ENGINE_KILL_SEED") is { Length: > 0 } s ? int.Parse(s, CultureInfo.InvariantCulture) : Random.Shared.Next();
        TestContext.Out.WriteLine($"ENGINE_KILLS={kills} ENGINE_KILL_SEED={seed}");
        var random = new Random(seed);
        var clock = Stopwatch.StartNew();

        using var folder = ConsoleRunner.TemporaryDirectory();
        string checkpoints = folder["checkpoints"];
        Directory.CreateDirectory(checkpoints);
        var manager = new CheckpointManager(checkpoints, Checkpoints.Kept);
        int latest = 0; // the epoch of the latest checkpoint (0: none yet)
        string? latestFile = null;
        var landed = new Dictionary<string, int>(StringComparer.Ordinal);
        var uncommitted = new HashSet<string>(StringComparer.Ordinal);

        for (int kill = 1; kill <= kills; kill++)
        {
            string context = $"kill {kill} (ENGINE_KILL_SEED={seed})";
            var stale = new HashSet<string>(Temporaries(checkpoints, "*.tmp"), StringComparer.Ordinal); // left by earlier kills
            using MnistProcess child = MnistProcess.Start(Arguments(checkpoints, resume: latest > 0, Endless));
            string aim;
            switch (kill % 4)
            {
                case 0:
                    aim = "from the start";
                    Thread.Sleep(random.Next(0, 800)); // start-up, data, lock, model
                    break;
                case 1:
                    aim = "while training";
                    WaitUntil(child, () => child.Lines.Any(l => l.Text.StartsWith("Checkpoints: ", StringComparison.Ordinal)), context);
                    Thread.Sleep(random.Next(0, 1000)); // training, evaluating, saving
                    break;
                case 2:
                    // Wait for the child's n-th checkpoint write to start, then kill it within a few milliseconds.
                    int nth = random.Next(1, 4);
                    aim = $"at write {nth}";
                    var writes = new HashSet<string>(StringComparer.Ordinal);
                    WaitUntil(child, () =>
                    {
                        writes.UnionWith(Temporaries(checkpoints, ".ckpt-*.tmp").Where(f => !stale.Contains(f)));
                        return writes.Count >= nth;
                    }, context);
                    Thread.Sleep(random.Next(0, 3));
                    break;
                default:
                    // Kill as the n-th checkpoint file is renamed into place: the pointer file is being rewritten.
                    int committed = random.Next(1, 4);
                    aim = $"at commit {committed}";
                    var started = new HashSet<string>(StringComparer.Ordinal);
                    WaitUntil(child, () =>
                    {
                        string[] open = Temporaries(checkpoints, ".ckpt-*.tmp").Where(f => !stale.Contains(f)).ToArray();
                        started.UnionWith(open);
                        return started.Count >= committed && open.Length == 0;
                    }, context);
                    break;
            }
            Assert.That(child.HasExited, Is.False, $"{context}: the child ended by itself: {child}");
            child.Kill();

            string[] fresh = Temporaries(checkpoints, "*.tmp").Where(f => !stale.Contains(f)).Select(Path.GetFileName).ToArray()!;
            string where = fresh.Any(f => f.StartsWith(".ckpt-", StringComparison.Ordinal)) ? "inside a checkpoint write"
                : fresh.Any(f => f.StartsWith(".checkpoint.", StringComparison.Ordinal)) ? "inside a pointer write"
                : child.Lines.Any(l => EpochLine().IsMatch(l.Text)) ? "after a save (training, evaluating, deleting the oldest)"
                : child.Lines.Any(l => l.Text.StartsWith("Checkpoints: ", StringComparison.Ordinal)) ? "before the run's first save (training, evaluating)"
                : "during start-up (runtime, data, lock, model)";
            landed[where] = landed.GetValueOrDefault(where) + 1;

            // A resumed child names the checkpoint it continues from: the latest complete one.
            if (latest > 0 && child.Lines.Select(l => ResumingLine().Match(l.Text)).FirstOrDefault(m => m.Success) is { Success: true } resuming)
            {
                Assert.That(resuming.Groups[1].Value, Is.EqualTo(latestFile), $"{context}: {resuming.Value}");
                Assert.That(int.Parse(resuming.Groups[2].Value, CultureInfo.InvariantCulture), Is.EqualTo(latest + 1), $"{context}: {resuming.Value}");
                Assert.That(resuming.Groups[3].Value, Is.EqualTo("0"), context);
            }

            // The child reported the epochs it saved; the kill may also have come right after a save it had no time to report.
            int reported = child.Lines.Select(l => EpochLine().Match(l.Text)).Where(m => m.Success)
                .Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).DefaultIfEmpty(latest).Max();
            string? latestPath = manager.LatestPath;
            int now = latestPath is null ? 0 : CheckpointFile.Load(latestPath).Epoch;
            Assert.That(now, Is.InRange(reported, reported + 1), $"{context}: latest checkpoint {latestPath}; {where}; {child}");
            Assert.That(now, Is.GreaterThanOrEqualTo(latest), context);
            if (latestPath is not null)
            {
                Assert.That(Path.GetFileName(latestPath), Does.Match(@"^ckpt-\d{4}\.ckpt$"), $"{context}: never a temporary file");
            }
            // Every file with a checkpoint's name is whole, committed (named by the pointer file) or not: a kill between
            // a checkpoint's rename and the pointer's leaves a complete file that resume ignores (that epoch is redone).
            foreach (string file in Directory.GetFiles(checkpoints, "ckpt-*.ckpt"))
            {
                CheckpointContents contents = CheckpointFile.Load(file);
                Assert.That(contents.Step, Is.Zero, $"{context}: {file} is at an epoch boundary");
                if (!manager.Checkpoints.Contains(file) && uncommitted.Add(file))
                {
                    TestContext.Out.WriteLine($"  {Path.GetFileName(file)} (epoch {contents.Epoch}) is whole but not committed");
                }
            }
            latest = now;
            latestFile = latestPath is null ? null : Path.GetFileName(latestPath);
            TestContext.Out.WriteLine($"kill {kill,2} {aim,-15} {child.Elapsed.TotalMilliseconds,6:F0} ms: {where}; latest checkpoint epoch {latest}");
        }
        Assert.That(latest, Is.GreaterThan(0), "the children trained at least one epoch in all");

        // Run to the end from the last kill: the weights equal those of a run that was never killed.
        string total = (latest + 2).ToString(CultureInfo.InvariantCulture);
        using (MnistProcess last = MnistProcess.Start(Arguments(checkpoints, resume: true, total)))
        {
            Assert.That(last.WaitForExit(Patience), Is.Zero, last.ToString());
            Assert.That(last.Lines.Select(l => l.Text), Has.Some.StartsWith($"Resuming from {latestFile} at epoch {latest + 1}, batch 0 "));
        }
        Assert.That(Temporaries(checkpoints, "*.tmp"), Is.Empty, "stale temporary files are deleted by the next save");
        string[] left = Directory.GetFiles(checkpoints).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
        Assert.That(left.Where(name => name.StartsWith("ckpt-", StringComparison.Ordinal)), Has.Exactly(Checkpoints.Kept).Items);
        string killed = RunReport.FromJson(File.ReadAllText(Path.Combine(checkpoints, "report.json"))).ParametersSha256;

        ConsoleResult straight = ConsoleRunner.Run(Arguments(folder["straight"], resume: false, total));
        Assert.That(straight.ExitCode, Is.Zero, straight.ToString());
        string uninterrupted = RunReport.FromJson(File.ReadAllText(folder["straight/report.json"])).ParametersSha256;
        Assert.That(killed, Is.EqualTo(uninterrupted), $"{kills} kills, then {total} epochs: the same weights as {total} epochs straight");

        TestContext.Out.WriteLine($"{kills} kills in {clock.Elapsed.TotalSeconds:F1} s; {total} epochs in all; parameters_sha256 {killed} (equal to the uninterrupted run)");
        TestContext.Out.WriteLine($"files in the folder at the end: {string.Join(", ", left)}");
        TestContext.Out.WriteLine($"{uncommitted.Count} kills left a whole checkpoint the pointer file did not name yet (its epoch was trained again)");
        foreach ((string where, int count) in landed.OrderByDescending(p => p.Value))
        {
            TestContext.Out.WriteLine($"  {count,2} {where}");
        }
    }
}
