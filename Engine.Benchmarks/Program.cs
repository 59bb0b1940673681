using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

namespace Engine.Benchmarks;

/// <summary>
/// Runs the benchmarks picked on the command line, e.g.
/// <c>dotnet run -c Release --project Engine.Benchmarks -- --filter '*Gemm*' --job short</c>,
/// <c>-- gemm-cputime [runs]</c> for the GEMM shapes timed by thread CPU time, or
/// <c>-- step-profile [steps] [threads]</c> for the training step timed per operation, or
/// <c>-- thread-scaling [steps] [threads] [threads]</c> for each stage's speed-up from one thread count to another, or
/// <c>-- fma-peak [threads]</c> for the machine's FP32 FMA peak, or
/// <c>-- memory-scaling [rounds]</c> for how its caches and memory scale from 1 thread to 2, or
/// <c>-- core-handoff [rounds]</c> for how long a cache line takes to move from one core to another.
/// </summary>
public static class Program
{
    /// <summary>Entry point: BenchmarkDotNet's switcher over every benchmark class in this assembly.</summary>
    public static void Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "gemm-cputime")
        {
            GemmCpuTime.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 51);
            return;
        }
        if (args.Length > 0 && args[0] == "fma-peak")
        {
            FmaPeak.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 2);
            return;
        }
        if (args.Length > 0 && args[0] == "memory-scaling")
        {
            MemoryScaling.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 5);
            return;
        }
        if (args.Length > 0 && args[0] == "core-handoff")
        {
            CoreHandoff.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 5);
            return;
        }
        if (args.Length > 0 && args[0] == "thread-scaling")
        {
            ThreadScaling.Run(
                args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 200,
                args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 1,
                args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 2);
            return;
        }
        if (args.Length > 0 && args[0] == "step-profile")
        {
            StepProfile.Run(
                args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 100,
                args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 2);
            return;
        }
        // GFLOP/s for every benchmark that declares its FLOPs (FlopCountAttribute); hidden in summaries without one.
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, DefaultConfig.Instance.AddColumn(new GflopsColumn()));
    }
}
