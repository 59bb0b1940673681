using System.Diagnostics;

namespace Engine.Tests.Reliability;

/// <summary>
/// The console as a real child process (<c>dotnet Mnist.dll ...</c>, the build beside the tests), for what an
/// in-process run cannot show: SIGKILL, resident memory, a fresh runtime per run. Standard output is collected
/// line by line as it arrives, each line with the time since the start.
/// </summary>
internal sealed class MnistProcess : IDisposable
{
    private readonly Process _process;
    private readonly Stopwatch _clock;
    private readonly List<(TimeSpan At, string Text)> _lines = [];
    private readonly System.Text.StringBuilder _error = new();

    private MnistProcess(Process process, Stopwatch clock)
    {
        _process = process;
        _clock = clock;
    }

    /// <summary>Starts <c>mnist <paramref name="args"/></c>.</summary>
    public static MnistProcess Start(params string[] args) => Start(new Dictionary<string, string>(), args);

    /// <summary>Starts <c>mnist <paramref name="args"/></c> with <paramref name="environment"/> added to the environment.</summary>
    public static MnistProcess Start(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach ((string name, string value) in environment)
        {
            start.Environment[name] = value;
        }
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Mnist.dll"));
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        var process = new Process { StartInfo = start };
        var child = new MnistProcess(process, Stopwatch.StartNew());
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (child._lines)
                {
                    child._lines.Add((child._clock.Elapsed, e.Data));
                }
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (child._error)
                {
                    child._error.AppendLine(e.Data);
                }
            }
        };
        if (!process.Start())
        {
            throw new InvalidOperationException("mnist did not start.");
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>The process id.</summary>
    public int Id => _process.Id;

    /// <summary>Time since the start.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Whether the process has ended.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The exit code (137 after <see cref="Kill"/>).</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>The standard output lines received so far, with their arrival times.</summary>
    public IReadOnlyList<(TimeSpan At, string Text)> Lines
    {
        get
        {
            lock (_lines)
            {
                return _lines.ToArray();
            }
        }
    }

    /// <summary>Standard error received so far.</summary>
    public string Error
    {
        get
        {
            lock (_error)
            {
                return _error.ToString();
            }
        }
    }

    /// <summary>Kills the process with SIGKILL (no handler, no finally block runs) and waits for it to end.</summary>
    public void Kill()
    {
        try
        {
            _process.Kill();
        }
        catch (InvalidOperationException)
        {
            // It had already exited.
        }
        _process.WaitForExit();
    }

    /// <summary>Waits for the process to end and for its output to be read; kills it and fails after <paramref name="timeout"/>.</summary>
    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            Kill();
            Assert.Fail($"mnist did not end within {timeout.TotalSeconds:F0} s; output:\n{string.Join('\n', Lines.Select(l => l.Text))}\nstderr: {Error}");
        }
        _process.WaitForExit(); // drains the redirected streams
        return _process.ExitCode;
    }

    /// <summary>Everything so far, for assertion messages.</summary>
    public override string ToString() =>
        $"exit {(_process.HasExited ? _process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "(running)")}\n--- stdout\n{string.Join('\n', Lines.Select(l => l.Text))}\n--- stderr\n{Error}";

    /// <summary>Kills the process if it still runs.</summary>
    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Kill();
        }
        _process.Dispose();
    }

    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
}
