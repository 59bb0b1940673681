using System.Text.Json;

namespace Engine.Tests;

/// <summary>Reads the golden JSON files (schema cnn-golden/1) and compares at SCHEMA.md's tolerances.</summary>
public static class Golden
{
    private static readonly Dictionary<string, JsonDocument> Documents = new();

    /// <summary>The cases of a golden file, by name.</summary>
    public static IEnumerable<string> CaseNames(string file) =>
        Load(file).RootElement.GetProperty("cases").EnumerateArray().Select(c => c.GetProperty("name").GetString()!);

    /// <summary>One case of a golden file.</summary>
    public static JsonElement Case(string file, string name) =>
        Load(file).RootElement.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    /// <summary>A tensor element {shape, data}.</summary>
    public static Tensor Tensor(JsonElement element)
    {
        int[] shape = element.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray();
        float[] data = element.GetProperty("data").EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();
        return Engine.Tensor.FromValues(new Shape(shape), data);
    }

    /// <summary>A [h, w] pair.</summary>
    public static Size2 Pair(JsonElement element) => new(element[0].GetInt32(), element[1].GetInt32());

    /// <summary>"SAME" or "VALID".</summary>
    public static Padding Padding(JsonElement element) =>
        element.GetString() == "SAME" ? Engine.Padding.Same : Engine.Padding.Valid;

    /// <summary>Asserts shape equality and |got - want| ≤ relative · max(|want|) (or exact when relative is 0).</summary>
    public static void AssertClose(Tensor got, Tensor want, double relative, string what)
    {
        Assert.That(got.Shape, Is.EqualTo(want.Shape), $"{what}: shape");
        AssertClose(got.ReadOnlySpan, want.ReadOnlySpan, relative, what);
    }

    /// <summary>Asserts |got - want| ≤ relative · max(|want|) element-wise (exact when relative is 0).</summary>
    public static void AssertClose(ReadOnlySpan<float> got, ReadOnlySpan<float> want, double relative, string what)
    {
        Assert.That(got.Length, Is.EqualTo(want.Length), $"{what}: length");
        double scale = 0;
        foreach (float value in want)
        {
            scale = Math.Max(scale, Math.Abs(value));
        }
        double tolerance = relative * scale;
        double worst = 0;
        int worstIndex = -1;
        for (int index = 0; index < got.Length; index++)
        {
            double difference = Math.Abs((double)got[index] - want[index]);
            if (!(difference <= worst) || float.IsNaN(got[index]))
            {
                worst = float.IsNaN(got[index]) ? double.PositiveInfinity : difference;
                worstIndex = index;
            }
        }
        if (worstIndex >= 0 && worst > tolerance)
        {
            Assert.Fail($"{what}: element {worstIndex} is {got[worstIndex]}, expected {want[worstIndex]} " +
                $"(difference {worst:G4} > tolerance {tolerance:G4} = {relative} x scale {scale:G4}).");
        }
    }

    private static JsonDocument Load(string file)
    {
        lock (Documents)
        {
            if (!Documents.TryGetValue(file, out JsonDocument? document))
            {
                document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(TestPaths.GoldenDirectory, file)));
                Documents[file] = document;
            }
            return document;
        }
    }
}
