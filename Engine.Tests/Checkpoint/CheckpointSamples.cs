using System.Runtime.InteropServices;

using Engine.Checkpoint;

namespace Engine.Tests.Checkpoint;

/// <summary>Sample checkpoint contents, bitwise comparison and a scratch directory for the checkpoint tests.</summary>
internal static class CheckpointSamples
{
    /// <summary>Float bit patterns that must survive a round trip unchanged.</summary>
    public static readonly int[] SpecialBits =
    [
        BitConverter.SingleToInt32Bits(-0.0f),
        BitConverter.SingleToInt32Bits(0.0f),
        BitConverter.SingleToInt32Bits(float.Epsilon),       // smallest subnormal
        BitConverter.SingleToInt32Bits(1e-40f),              // a subnormal
        BitConverter.SingleToInt32Bits(-1e-40f),
        BitConverter.SingleToInt32Bits(float.MaxValue),
        BitConverter.SingleToInt32Bits(float.MinValue),
        BitConverter.SingleToInt32Bits(float.PositiveInfinity),
        BitConverter.SingleToInt32Bits(float.NegativeInfinity),
        0x7FC12345,                                          // a quiet NaN with a payload
        BitConverter.SingleToInt32Bits(1.0f / 3.0f),
        BitConverter.SingleToInt32Bits(-123.456f),
    ];

    /// <summary>A small model's worth of contents: conv2d [3,3,1,4] + [4], dense [5,3] + [3], Adam m and v, two random states.</summary>
    public static CheckpointContents Create(int epoch = 7, string architecture = "Conv2D(4, 3x3) -> Dense(3)")
    {
        var random = new RandomSource(42);
        NamedTensor[] parameters =
        [
            Filled("conv2d/kernel", new Shape(3, 3, 1, 4), random),
            Filled("conv2d/bias", new Shape(4), random),
            Filled("dense/kernel", new Shape(5, 3), random),
            Filled("dense/bias", new Shape(3), random),
        ];
        Span<float> kernel = parameters[0].Value.Span;
        for (int index = 0; index < SpecialBits.Length; index++)
        {
            kernel[index] = BitConverter.Int32BitsToSingle(SpecialBits[index]);
        }
        var slots = new List<NamedTensor>();
        foreach (NamedTensor parameter in parameters)
        {
            slots.Add(Filled(parameter.Name + "/m", parameter.Value.Shape, random));
            slots.Add(Filled(parameter.Name + "/v", parameter.Value.Shape, random));
        }
        return new CheckpointContents
        {
            Architecture = architecture,
            Parameters = parameters,
            OptimizerName = "adam",
            OptimizerStep = 1234,
            OptimizerSlots = slots,
            Epoch = epoch,
            Step = 98765432101,
            RandomStates = new Dictionary<string, ulong[]>
            {
                ["shuffle"] = new RandomSource(1).GetState(),
                ["dropout"] = [ulong.MaxValue, 0, 1, 0x8000000000000000],
            },
            Metadata = new Dictionary<string, string>
            {
                ["learning_rate"] = "0.001",
                ["batch_size"] = "32",
                ["note"] = "ünïcödé ✓, \"quotes\" and\nnew lines",
                ["empty"] = "",
            },
        };
    }

    /// <summary>Asserts that two contents are equal, floats bit for bit.</summary>
    public static void AssertEqual(CheckpointContents actual, CheckpointContents expected)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(actual.Architecture, Is.EqualTo(expected.Architecture));
            Assert.That(actual.OptimizerName, Is.EqualTo(expected.OptimizerName));
            Assert.That(actual.OptimizerStep, Is.EqualTo(expected.OptimizerStep));
            Assert.That(actual.Epoch, Is.EqualTo(expected.Epoch));
            Assert.That(actual.Step, Is.EqualTo(expected.Step));
            Assert.That(actual.Metadata, Is.EquivalentTo(expected.Metadata));
            Assert.That(actual.RandomStates.Keys, Is.EquivalentTo(expected.RandomStates.Keys));
            foreach ((string name, ulong[] state) in expected.RandomStates)
            {
                Assert.That(actual.RandomStates[name], Is.EqualTo(state), $"random state {name}");
            }
            AssertTensorsEqual(actual.Parameters, expected.Parameters);
            AssertTensorsEqual(actual.OptimizerSlots, expected.OptimizerSlots);
        }
    }

    /// <summary>The bit patterns of a tensor's values.</summary>
    public static int[] Bits(Tensor tensor) => tensor.ReadOnlySpan.ToArray().Select(BitConverter.SingleToInt32Bits).ToArray();

    private static void AssertTensorsEqual(IReadOnlyList<NamedTensor> actual, IReadOnlyList<NamedTensor> expected)
    {
        Assert.That(actual.Select(tensor => tensor.Name), Is.EqualTo(expected.Select(tensor => tensor.Name)));
        for (int index = 0; index < Math.Min(actual.Count, expected.Count); index++)
        {
            Assert.That(actual[index].Value.Shape, Is.EqualTo(expected[index].Value.Shape), actual[index].Name);
            Assert.That(FirstDifferingBits(actual[index].Value, expected[index].Value), Is.EqualTo(-1),
                $"{actual[index].Name}: the index of the first element whose bits differ");
        }
    }

    /// <summary>The first index where the two tensors' bit patterns differ, or -1 when they are identical.</summary>
    private static int FirstDifferingBits(Tensor actual, Tensor expected)
    {
        ReadOnlySpan<int> actualBits = MemoryMarshal.Cast<float, int>(actual.ReadOnlySpan);
        ReadOnlySpan<int> expectedBits = MemoryMarshal.Cast<float, int>(expected.ReadOnlySpan);
        int common = actualBits.CommonPrefixLength(expectedBits);
        return common == actualBits.Length && common == expectedBits.Length ? -1 : common;
    }

    private static NamedTensor Filled(string name, Shape shape, RandomSource random)
    {
        var tensor = new Tensor(shape);
        Span<float> values = tensor.Span;
        for (int index = 0; index < values.Length; index++)
        {
            values[index] = (float)random.NextGaussian();
        }
        return new NamedTensor(name, tensor);
    }
}

/// <summary>A fresh directory under the system temporary folder, deleted on dispose.</summary>
internal sealed class ScratchDirectory : IDisposable
{
    public ScratchDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "engine-checkpoint-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
