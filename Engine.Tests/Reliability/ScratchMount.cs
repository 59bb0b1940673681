using System.Diagnostics;

namespace Engine.Tests.Reliability;

/// <summary>
/// A file system mounted for one test: a small tmpfs (a disk that fills up) or a read-only bind mount of a folder
/// (a folder nobody may write to, root included). Mounting needs Linux and the right to mount (root with
/// CAP_SYS_ADMIN); <see cref="Unavailable"/> says why it cannot be done here, and the tests fall back to a
/// simulated failure. Dispose unmounts.
/// </summary>
internal sealed class ScratchMount : IDisposable
{
    private static readonly Lazy<string?> WhyUnavailable = new(Probe);

    private ScratchMount(string path)
    {
        Path = path;
    }

    /// <summary>Null when this process can mount a tmpfs and a read-only bind mount; otherwise why not.</summary>
    public static string? Unavailable => WhyUnavailable.Value;

    /// <summary>The mount point.</summary>
    public string Path { get; }

    /// <summary>Mounts an empty tmpfs of <paramref name="bytes"/> bytes on <paramref name="path"/> (created if needed).</summary>
    public static ScratchMount Tmpfs(string path, long bytes)
    {
        Directory.CreateDirectory(path);
        Run("mount", "-t", "tmpfs", "-o", $"size={bytes}", "tmpfs", path);
        return new ScratchMount(path);
    }

    /// <summary>
    /// Covers <paramref name="path"/> with a read-only bind mount of itself: every new open for writing fails with EROFS;
    /// files already open for writing (e.g. a lock) are untouched.
    /// </summary>
    public static ScratchMount ReadOnly(string path)
    {
        Run("mount", "--bind", path, path);
        var mount = new ScratchMount(path);
        try
        {
            Run("mount", "-o", "remount,bind,ro", path);
        }
        catch
        {
            mount.Dispose();
            throw;
        }
        return mount;
    }

    /// <summary>Changes the size of a tmpfs.</summary>
    public void Resize(long bytes) => Run("mount", "-o", $"remount,size={bytes}", Path);

    /// <summary>Unmounts.</summary>
    public void Dispose()
    {
        try
        {
            Run("umount", Path);
        }
        catch (InvalidOperationException)
        {
            Run("umount", "--lazy", Path); // still busy (a file left open by a failed test): detach it now
        }
    }

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "not Linux";
        }
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mnist-console-tests", "mount-probe-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (Tmpfs(path, 1 << 20))
            {
                string inner = System.IO.Path.Combine(path, "read-only");
                Directory.CreateDirectory(inner);
                using (ReadOnly(inner))
                {
                }
            }
            return null;
        }
        catch (Exception error) when (error is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return error.Message;
        }
        finally
        {
            try
            {
                Directory.Delete(path);
            }
            catch (IOException)
            {
            }
        }
    }

    private static void Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start.");
        string error = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)}: exit {process.ExitCode}: {error.Trim()}");
        }
    }
}
