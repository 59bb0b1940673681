using BenchmarkDotNet.Running;

namespace Engine.Benchmarks;

/// <summary>
/// Runs the benchmarks picked on the command line, e.g.
/// <c>dotnet run -c Release --project Engine.Benchmarks -- --filter '*Gemm*' --job short</c>.
/// </summary>
public static class Program
{
    /// <summary>Entry point: BenchmarkDotNet's switcher over every benchmark class in this assembly.</summary>
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
