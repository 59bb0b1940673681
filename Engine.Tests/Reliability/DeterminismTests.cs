using System.Runtime.InteropServices;
using System.Security.Cryptography;

using Engine.Checkpoint;
using Engine.Tests.Mnist;
using global::Mnist;

namespace Engine.Tests.Reliability;

/// <summary>
/// Determinism, proven on whole processes: <c>mnist train</c> with one seed, started afresh each time (a new runtime,
/// new thread pool, new JIT decisions), gives the same <c>parameters_sha256</c> with 1, 2 and 4 threads, run after run,
/// with tiered compilation off and with AVX-512 off (256-bit vectors where the machine has AVX-512); the hash is that
/// of the weights in the final checkpoint; another seed differs.
/// </summary>
[NonParallelizable]
public class DeterminismTests
{
    private sealed record Run(string Name, string Threads, string Seed, IReadOnlyDictionary<string, string> Environment);

    private static readonly Dictionary<string, string> Plain = [];

    [Test]
    public void OneSeedGivesOneParameterHashWithOneTwoAndFourThreadsRunAfterRun()
    {
        Run[] runs =
        [
            new("1 thread", "1", "11", Plain),
            new("2 threads", "2", "11", Plain),
            new("4 threads", "4", "11", Plain),
            new("1 thread, again", "1", "11", Plain),
            new("4 threads, again, tiered compilation off", "4", "11", new Dictionary<string, string> { ["DOTNET_TieredCompilation"] = "0" }),
            new("2 threads, again, AVX-512 off", "2", "11", new Dictionary<string, string> { ["DOTNET_EnableAVX512"] = "0" }),
            new("2 threads, seed 12", "2", "12", Plain),
        ];
        using var folder = ConsoleRunner.TemporaryDirectory();
        var hashes = new List<string>();
        foreach ((Run run, int index) in runs.Select((run, index) => (run, index)))
        {
            string checkpoints = folder[$"run{index}"];
            using MnistProcess child = MnistProcess.Start(run.Environment,
                "train", "--data", SmallMnist.Directory, "--checkpoint-dir", checkpoints, "--epochs", "2", "--test-limit", "100",
                "--seed", run.Seed, "--threads", run.Threads);
            Assert.That(child.WaitForExit(TimeSpan.FromSeconds(120)), Is.Zero, child.ToString());
            RunReport report = RunReport.FromJson(File.ReadAllText(Path.Combine(checkpoints, "report.json")));
            Assert.That(report.Threads, Is.EqualTo(int.Parse(run.Threads, System.Globalization.CultureInfo.InvariantCulture)), run.Name);
            Assert.That(report.Hyperparameters.TrainImages, Is.EqualTo(SmallMnist.TrainImages));
            Assert.That(child.Lines.Select(l => l.Text), Has.Member($"parameters_sha256 {report.ParametersSha256}"), "printed as in the report");
            Assert.That(DigestOf(CheckpointFile.Load(report.Checkpoint)), Is.EqualTo(report.ParametersSha256), "the hash of the saved weights");
            TestContext.Out.WriteLine($"{run.Name,-42} seed {run.Seed}, SIMD {report.Machine.SimdWidthBits,3} bits: {report.ParametersSha256}");
            hashes.Add(report.ParametersSha256);
        }
        Assert.That(hashes[..^1], Has.All.EqualTo(hashes[0]), "seed 11: 1, 2 and 4 threads, repeated, tiered compilation on and off, AVX-512 on and off");
        Assert.That(hashes[^1], Is.Not.EqualTo(hashes[0]), "another seed gives other weights");
    }

    /// <summary>The report's digest recomputed from a checkpoint: SHA-256 of every parameter's float32 values, little-endian, in order.</summary>
    private static string DigestOf(CheckpointContents contents)
    {
        Assert.That(BitConverter.IsLittleEndian, "the bytes of the floats are their little-endian encoding");
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (NamedTensor parameter in contents.Parameters)
        {
            hash.AppendData(MemoryMarshal.AsBytes(parameter.Value.ReadOnlySpan));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
