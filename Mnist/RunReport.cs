using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Engine;

namespace Mnist;

/// <summary>The JSON report of a training run (snake_case keys), written atomically after a successful run.</summary>
internal sealed record RunReport(
    Hyperparameters Hyperparameters,
    IReadOnlyList<EpochReport> Epochs,
    double TestLoss,
    double TestAccuracy,
    string ParametersSha256,
    long ParameterCount,
    int Threads,
    MachineReport Machine,
    ProcessReport Process,
    string Checkpoint,
    DateTimeOffset Finished)
{
    /// <summary>The report as indented JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, ReportJson.Default.RunReport);

    /// <summary>Parses a report written by <see cref="ToJson"/>.</summary>
    public static RunReport FromJson(string json) =>
        JsonSerializer.Deserialize(json, ReportJson.Default.RunReport) ?? throw new InvalidDataException("The report is empty.");

    /// <summary>Serializes the epoch list alone (stored in checkpoints so a resumed run reports every epoch).</summary>
    public static string EpochsToJson(IReadOnlyList<EpochReport> epochs) => JsonSerializer.Serialize(epochs, ReportJson.Default.IReadOnlyListEpochReport);

    /// <summary>Parses <see cref="EpochsToJson"/>.</summary>
    public static List<EpochReport> EpochsFromJson(string json) => JsonSerializer.Deserialize(json, ReportJson.Default.ListEpochReport) ?? [];

    /// <summary>
    /// The SHA-256 (lower-case hex) of every parameter's float32 values as little-endian bytes, in
    /// Summary (layer) order: equal digests mean bit-identical weights.
    /// </summary>
    public static string DigestParameters(Sequential model)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> bytes = stackalloc byte[sizeof(float)];
        foreach (Parameter parameter in model.Parameters)
        {
            ReadOnlySpan<float> values = parameter.Value.ReadOnlySpan;
            if (BitConverter.IsLittleEndian)
            {
                hash.AppendData(MemoryMarshal.AsBytes(values));
            }
            else
            {
                foreach (float value in values)
                {
                    System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
                    hash.AppendData(bytes);
                }
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}

/// <summary>The hyper-parameters of a run.</summary>
internal sealed record Hyperparameters(
    string Optimizer,
    double LearningRate,
    int BatchSize,
    int Epochs,
    int ShuffleBuffer,
    int Seed,
    double DropoutRate,
    int TrainImages,
    int TestImages);

/// <summary>
/// One epoch's metrics, and the memory of the process that trained it when the epoch ended (after its evaluation,
/// before its checkpoint): resident bytes, and since the process started, the bytes allocated on the managed heap and
/// the number of gen-2 garbage collections.
/// </summary>
internal sealed record EpochReport(
    int Epoch,
    double TrainLoss,
    double TrainAccuracy,
    double TestLoss,
    double TestAccuracy,
    double Seconds,
    double ImagesPerSecond,
    long ResidentBytes,
    long AllocatedBytes,
    int Gen2Collections);

/// <summary>The memory of the process when training ended (after the last checkpoint, before the plots).</summary>
internal sealed record ProcessReport(long PeakResidentBytes, long ResidentBytes, int Gen0Collections, int Gen1Collections, int Gen2Collections,
    long AllocatedBytes)
{
    /// <summary>This process, now.</summary>
    public static ProcessReport Current()
    {
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        return new ProcessReport(process.PeakWorkingSet64, process.WorkingSet64, GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2),
            GC.GetTotalAllocatedBytes());
    }
}

/// <summary>The machine a run used.</summary>
internal sealed record MachineReport(string Os, string Cpu, int LogicalCores, int SimdWidthBits, string SimdInstructions, string Dotnet)
{
    /// <summary>Describes this machine.</summary>
    public static MachineReport Current()
    {
        int width = Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : Vector128.IsHardwareAccelerated ? 128 : 32;
        var sets = new List<string>();
        if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported) { sets.Add("AVX-512F"); }
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported) { sets.Add("AVX2"); }
        if (System.Runtime.Intrinsics.X86.Fma.IsSupported) { sets.Add("FMA"); }
        if (System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported) { sets.Add("AdvSIMD"); }
        return new MachineReport(RuntimeInformation.OSDescription, CpuName(), Environment.ProcessorCount, width,
            sets.Count == 0 ? "none" : string.Join(", ", sets), RuntimeInformation.FrameworkDescription);
    }

    private static string CpuName()
    {
        const string cpuInfo = "/proc/cpuinfo";
        try
        {
            if (File.Exists(cpuInfo))
            {
                string? line = File.ReadLines(cpuInfo).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
                if (line is not null && line.Contains(':'))
                {
                    return $"{line[(line.IndexOf(':') + 1)..].Trim()} ({RuntimeInformation.ProcessArchitecture})";
                }
            }
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            // Fall back to the architecture alone.
        }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }
}

/// <summary>
/// The report's JSON (snake_case keys, indented, nulls left out), generated at compile time: serializing the
/// epoch history into every checkpoint then needs no serializer built by reflection while the model is in memory.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RunReport))]
[JsonSerializable(typeof(IReadOnlyList<EpochReport>))]
[JsonSerializable(typeof(List<EpochReport>))]
internal sealed partial class ReportJson : JsonSerializerContext;
