using System.Diagnostics;

using Engine.Tests.Mnist;
using global::Mnist;

namespace Engine.Tests.Reliability;

/// <summary>
/// Two writers: a second <c>train</c> on a checkpoint folder in use is refused with one line (exit 1); the lock is
/// released when its holder ends, normally or killed (SIGKILL: the kernel drops the flock with the process).
/// </summary>
[NonParallelizable]
public class CheckpointLockTests
{
    private static void AssertRefused(ConsoleResult result, string folder)
    {
        Assert.That(result.ExitCode, Is.EqualTo(1), result.ToString());
        Assert.That(result.Error.TrimEnd(), Does.Contain("is in use by another 'mnist train'").And.Contain(folder).And.Not.Contain('\n'), result.ToString());
    }

    private static ConsoleResult Train(string folder) =>
        ConsoleRunner.Run("train", "--data", ConsoleRunner.Data, "--checkpoint-dir", folder, "--epochs", "1", "--train-limit", "100", "--test-limit", "100");

    [Test]
    public void ASecondTrainIsRefusedWhileTheFolderIsLocked()
    {
        using var folder = ConsoleRunner.TemporaryDirectory();
        string lockPath = folder[CheckpointLock.FileName];
        using (CheckpointLock.Acquire(folder.Path))
        {
            AssertRefused(Train(folder.Path), folder.Path);
            Assert.That(File.Exists(lockPath), "a refused contender leaves the holder's lock file in place");
            Assert.Throws(Is.InstanceOf<Exception>(), () => CheckpointLock.Acquire(folder.Path).Dispose(), "and the lock held");
        }
        Assert.That(File.Exists(lockPath), Is.False, "deleted on close");
        using (CheckpointLock.Acquire(folder.Path))
        {
        }
    }

    [Test]
    public void ATrainReleasesTheLockWhenItEndsAndAResumeIsRefusedWhileLocked()
    {
        using var folder = ConsoleRunner.TemporaryDirectory();
        string checkpoints = folder["checkpoints"];
        ConsoleResult first = Train(checkpoints);
        Assert.That(first.ExitCode, Is.Zero, first.ToString());
        Assert.That(File.Exists(Path.Combine(checkpoints, CheckpointLock.FileName)), Is.False);
        using (CheckpointLock.Acquire(checkpoints))
        {
            AssertRefused(ConsoleRunner.Run("train", "--data", ConsoleRunner.Data, "--checkpoint-dir", checkpoints, "--resume", "--epochs", "2", "--test-limit", "100"), checkpoints);
        }
    }

    [Test]
    public void AKilledHolderReleasesTheLock()
    {
        using var folder = ConsoleRunner.TemporaryDirectory();
        string checkpoints = folder["checkpoints"];
        string mnist = Path.Combine(AppContext.BaseDirectory, "Mnist.dll");
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { mnist, "train", "--data", ConsoleRunner.Data, "--checkpoint-dir", checkpoints, "--epochs", "50", "--threads", "1" })
        {
            start.ArgumentList.Add(arg);
        }
        using Process holder = Process.Start(start) ?? throw new InvalidOperationException("mnist train did not start.");
        try
        {
            var clock = Stopwatch.StartNew();
            while (!IsLocked(checkpoints))
            {
                if (holder.HasExited || clock.Elapsed > TimeSpan.FromSeconds(60))
                {
                    Assert.Fail($"the child never held the lock (exited: {holder.HasExited}); stderr: {(holder.HasExited ? holder.StandardError.ReadToEnd() : "")}");
                }
                Thread.Sleep(50);
            }
            AssertRefused(Train(checkpoints), checkpoints);
        }
        finally
        {
            holder.Kill(); // SIGKILL: no finally blocks, no DeleteOnClose in the child
            holder.WaitForExit();
        }
        TestContext.Out.WriteLine($"child exit code {holder.ExitCode}; lock file left behind: {File.Exists(Path.Combine(checkpoints, CheckpointLock.FileName))}");
        Assert.That(IsLocked(checkpoints), Is.False, "the kernel released the killed holder's lock");
    }

    private static bool IsLocked(string folder)
    {
        if (!Directory.Exists(folder))
        {
            return false;
        }
        try
        {
            CheckpointLock.Acquire(folder).Dispose();
            return false;
        }
        catch (Exception error) when (error.Message.Contains("in use", StringComparison.Ordinal))
        {
            return true;
        }
    }

    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
}
