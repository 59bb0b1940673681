using System.Globalization;
using System.Reflection;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Engine.Benchmarks;

/// <summary>
/// Declares the floating-point operations of one operation of a benchmark (one call, or one of its
/// <c>OperationsPerInvoke</c>: the unit BenchmarkDotNet's mean is given in), for <see cref="GflopsColumn"/>.
/// Put a subclass on the benchmark method, or on the class to cover all of its methods.
/// </summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class)]
public abstract class FlopCountAttribute : Attribute
{
    /// <summary>The FLOPs of one operation of <paramref name="benchmarkCase"/> (with its parameter values).</summary>
    public abstract double PerOperation(BenchmarkCase benchmarkCase);

    /// <summary>The count declared on the case's method, else on its class; null when neither declares one.</summary>
    public static FlopCountAttribute? Of(BenchmarkCase benchmarkCase) =>
        benchmarkCase.Descriptor.WorkloadMethod.GetCustomAttribute<FlopCountAttribute>()
        ?? benchmarkCase.Descriptor.Type.GetCustomAttribute<FlopCountAttribute>();
}

/// <summary>
/// The declared FLOPs per operation (<see cref="FlopCountAttribute"/>) divided by the mean time: GFLOP/s, or,
/// given a peak, GFLOP/s as a percentage of it. Shown in a summary when one of its benchmarks declares a count;
/// "-" for the others.
/// </summary>
/// <param name="peakGflops">The peak to compare with, or null for plain GFLOP/s.</param>
public sealed class GflopsColumn(double? peakGflops = null) : IColumn
{
    /// <inheritdoc />
    public string Id => peakGflops is null ? "Gflops" : "GflopsPercentOfPeak";

    /// <inheritdoc />
    public string ColumnName => peakGflops is null ? "GFLOP/s" : "% of peak";

    /// <inheritdoc />
    public bool AlwaysShow => true;

    /// <inheritdoc />
    public ColumnCategory Category => ColumnCategory.Custom;

    /// <inheritdoc />
    public int PriorityInCategory => peakGflops is null ? 0 : 1;

    /// <inheritdoc />
    public bool IsNumeric => true;

    /// <inheritdoc />
    public UnitType UnitType => UnitType.Dimensionless;

    /// <inheritdoc />
    public string Legend => peakGflops is { } peak
        ? $"GFLOP/s as a percentage of the {peak.ToString(CultureInfo.InvariantCulture)} GFLOP/s peak"
        : "Declared floating-point operations per operation / mean time, in 10^9 per second";

    /// <inheritdoc />
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    /// <inheritdoc />
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        FlopCountAttribute? flops = FlopCountAttribute.Of(benchmarkCase);
        if (flops is null)
        {
            return "-";
        }
        var statistics = summary[benchmarkCase]?.ResultStatistics;
        if (statistics is null)
        {
            return "NA";
        }
        double gflops = flops.PerOperation(benchmarkCase) / statistics.Mean; // FLOPs per nanosecond = GFLOP/s
        return peakGflops is { } peak
            ? (100 * gflops / peak).ToString("F1", style.CultureInfo) + "%"
            : gflops.ToString("F1", style.CultureInfo);
    }

    /// <inheritdoc />
    public bool IsAvailable(Summary summary) => summary.BenchmarksCases.Any(benchmarkCase => FlopCountAttribute.Of(benchmarkCase) is not null);

    /// <inheritdoc />
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
}
