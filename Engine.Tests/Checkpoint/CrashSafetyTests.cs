using System.Diagnostics;
using System.Globalization;
using System.Reflection;

using Engine.Checkpoint;

namespace Engine.Tests.Checkpoint;

/// <summary>
/// Runs Engine.Tests.CrashWriter, which saves multi-megabyte checkpoints in a loop, kills it with
/// Process.Kill (SIGKILL on Linux) at random moments, and checks after every kill that the directory
/// still restores a whole checkpoint.
/// </summary>
public sealed class CrashSafetyTests
{
    private const int Kills = 5;
    private const int FloatsPerLargeTensor = 1 << 19; // 2 MiB per tensor, two of them: ~4 MiB per save
    private const int MaxToKeep = 2;

    [Test]
    public void KillingAWriterAtRandomMomentsAlwaysLeavesARestorableCheckpoint()
    {
        using var scratch = new ScratchDirectory();
        var manager = new CheckpointManager(scratch.Path, MaxToKeep);
        var random = new Random(20251128);
        long lastCounter = 0;
        int killsDuringWrite = 0;

        for (int kill = 0; kill < Kills; kill++)
        {
            using Process writer = StartWriter(scratch.Path);
            WaitForFirstSave(writer);
            Thread.Sleep(random.Next(0, 120));
            writer.Kill(entireProcessTree: true);
            writer.WaitForExit();

            killsDuringWrite += Directory.GetFiles(scratch.Path, ".*.tmp").Length > 0 ? 1 : 0;
            CheckpointContents? restored = manager.RestoreLatest();
            Assert.That(restored, Is.Not.Null, $"after kill {kill + 1}");
            long counter = AssertWhole(restored!);
            Assert.That(counter, Is.GreaterThan(lastCounter), $"after kill {kill + 1} the writer made progress");
            lastCounter = counter;
            foreach (string path in manager.Checkpoints)
            {
                AssertWhole(CheckpointFile.Load(path));
            }
        }

        manager.Save(new CheckpointContents { Architecture = "crash-writer", Parameters = [] });
        Assert.That(Directory.GetFiles(scratch.Path, ".*.tmp"), Is.Empty, "stale temporary files are deleted by the next save");
        TestContext.Out.WriteLine($"{Kills} kills, {killsDuringWrite} left a temporary file (killed mid-write); last counter {lastCounter}.");
    }

    /// <summary>Checks that every value agrees with the save counter recorded in the metadata, and returns it.</summary>
    private static long AssertWhole(CheckpointContents contents)
    {
        long counter = long.Parse(contents.Metadata["counter"], CultureInfo.InvariantCulture);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(contents.Epoch, Is.EqualTo(counter));
            Assert.That(contents.OptimizerStep, Is.EqualTo(counter));
            Assert.That(contents.Parameters[0].Value.ReadOnlySpan.ToArray(), Has.All.EqualTo((float)counter), "large/kernel");
            Assert.That(contents.Parameters[1].Value.ReadOnlySpan.ToArray(), Has.All.EqualTo((float)-counter), "large/bias");
            Assert.That(contents.OptimizerSlots[0].Value.ReadOnlySpan.ToArray(), Has.All.EqualTo(counter * 0.5f), "large/kernel/m");
        }
        return counter;
    }

    private static Process StartWriter(string directory)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(CrashWriterPath());
        start.ArgumentList.Add(directory);
        start.ArgumentList.Add(FloatsPerLargeTensor.ToString(CultureInfo.InvariantCulture));
        start.ArgumentList.Add(MaxToKeep.ToString(CultureInfo.InvariantCulture));
        return Process.Start(start) ?? throw new InvalidOperationException("The crash writer did not start.");
    }

    private static void WaitForFirstSave(Process writer)
    {
        Task<string?> line = writer.StandardOutput.ReadLineAsync();
        if (!line.Wait(TimeSpan.FromSeconds(20)) || line.Result is not { } text || !text.StartsWith("saved ", StringComparison.Ordinal))
        {
            writer.Kill(entireProcessTree: true);
            Assert.Fail($"The crash writer did not report a save within 20 s; stderr: {writer.StandardError.ReadToEnd()}");
        }
    }

    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    private static string CrashWriterPath()
    {
        string? path = typeof(CrashSafetyTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .SingleOrDefault(attribute => attribute.Key == "CrashWriterPath")?.Value;
        if (path is null || !File.Exists(path))
        {
            Assert.Fail($"Engine.Tests.CrashWriter.dll not found at '{path}'; expected it built with the tests (dotnet build Engine.sln).");
        }
        return Path.GetFullPath(path!);
    }
}
