using System.Runtime.Intrinsics;
using Engine.Kernels;
using Engine.Optimizers;

namespace Engine.Tests.Optimizers;

public class AdamTests
{
    public static IEnumerable<string> GoldenCases => Golden.CaseNames("adam.json");

    [TestCaseSource(nameof(GoldenCases))]
    public void FiveStepsMatchKeras(string name)
    {
        var golden = Golden.Case("adam.json", name);
        var settings = golden.GetProperty("params");
        var adam = new Adam(settings.GetProperty("learning_rate").GetDouble(), settings.GetProperty("beta_1").GetDouble(),
            settings.GetProperty("beta_2").GetDouble(), settings.GetProperty("epsilon").GetDouble());
        var parameter = new Parameter("w", Golden.Tensor(golden.GetProperty("inputs").GetProperty("param0")));
        adam.Initialize([parameter]);
        var grads = golden.GetProperty("inputs").GetProperty("grads").EnumerateArray().Select(Golden.Tensor).ToArray();
        var steps = golden.GetProperty("expected").GetProperty("steps").EnumerateArray().ToArray();
        Assert.That(steps, Has.Length.EqualTo(grads.Length));
        for (int step = 0; step < grads.Length; step++)
        {
            grads[step].ReadOnlySpan.CopyTo(parameter.Gradient.Span);
            adam.Step([parameter]);
            var want = steps[step];
            Assert.That(adam.Iterations, Is.EqualTo(want.GetProperty("t").GetInt64()));
            double alpha = want.GetProperty("alpha").GetDouble();
            Assert.That(adam.Alpha(adam.Iterations), Is.EqualTo(alpha).Within(1e-6 * Math.Abs(alpha)), $"alpha at t={step + 1}");
            AssertPerElement(parameter.Value.ReadOnlySpan, Golden.Tensor(want.GetProperty("param")).ReadOnlySpan, $"param at t={step + 1}");
            AssertPerElement(adam.Slots[0].Value.ReadOnlySpan, Golden.Tensor(want.GetProperty("m")).ReadOnlySpan, $"m at t={step + 1}");
            AssertPerElement(adam.Slots[1].Value.ReadOnlySpan, Golden.Tensor(want.GetProperty("v")).ReadOnlySpan, $"v at t={step + 1}");
        }
    }

    [Test]
    public void SimdUpdateEqualsScalarReferenceOnEveryTail()
    {
        var random = new RandomSource(3);
        for (int length = 0; length <= 3 * 16 + 1; length++)
        {
            float[] gradient = Fill(random, length, 1f), m = Fill(random, length, 0.1f), v = Fill(random, length, 0.01f), value = Fill(random, length, 1f);
            for (int i = 0; i < length; i++)
            {
                v[i] = Math.Abs(v[i]);
            }
            float[] m2 = (float[])m.Clone(), v2 = (float[])v.Clone(), value2 = (float[])value.Clone();
            Adam.Update(gradient, 0.001f, 0.1f, 0.001f, 1e-7f, m, v, value);
            Adam.UpdateReference(gradient, 0.001f, 0.1f, 0.001f, 1e-7f, m2, v2, value2);
            Assert.That(m, Is.EqualTo(m2), $"m, length {length}");
            Assert.That(v, Is.EqualTo(v2), $"v, length {length}");
            Assert.That(value, Is.EqualTo(value2), $"value, length {length}");
        }
    }

    /// <summary>Each vector width's update (hardware when the machine has it, else emulated) against the scalar reference, bit for bit.</summary>
    [TestCase(512)]
    [TestCase(256)]
    public void EveryVectorWidthEqualsScalarReferenceBitForBitOnEveryTail(int bits)
    {
        var random = new RandomSource(5);
        for (int length = 0; length <= 3 * 16 + 1; length++)
        {
            float[] gradient = Fill(random, length, 1f), m = Fill(random, length, 0.1f), v = Fill(random, length, 0.01f), value = Fill(random, length, 1f);
            for (int i = 0; i < length; i++)
            {
                v[i] = Math.Abs(v[i]);
            }
            float[] m2 = (float[])m.Clone(), v2 = (float[])v.Clone(), value2 = (float[])value.Clone();
            if (bits == 512)
            {
                Adam.Update<Float512, Vector512<float>>(gradient, 0.001f, 0.1f, 0.001f, 1e-7f, m, v, value);
            }
            else
            {
                Adam.Update<Float256, Vector256<float>>(gradient, 0.001f, 0.1f, 0.001f, 1e-7f, m, v, value);
            }
            Adam.UpdateReference(gradient, 0.001f, 0.1f, 0.001f, 1e-7f, m2, v2, value2);
            Assert.That(m.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(m2.Select(BitConverter.SingleToInt32Bits)), $"m, length {length}");
            Assert.That(v.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(v2.Select(BitConverter.SingleToInt32Bits)), $"v, length {length}");
            Assert.That(value.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(value2.Select(BitConverter.SingleToInt32Bits)), $"value, length {length}");
        }
    }

    [Test]
    public void AnUpdateOnSeveralThreadsEqualsTheSerialOneBitForBit()
    {
        // Lengths around the piece size (32,768) and odd tails; three steps so the moments matter.
        int[] lengths = [70_001, 17, 32_768, 5];
        Parameter[] Make()
        {
            var random = new RandomSource(3);
            return lengths.Select((length, index) =>
            {
                var value = new Tensor(length);
                for (int i = 0; i < length; i++)
                {
                    value.Span[i] = random.NextSingle() - 0.5f;
                }
                return new Parameter($"p{index}", value);
            }).ToArray();
        }
        Parameter[] serial = Make(), parallel = Make();
        var serialAdam = new Adam();
        var parallelAdam = new Adam();
        serialAdam.Initialize(serial);
        parallelAdam.Initialize(parallel, new Workers(3));
        var gradients = new RandomSource(9);
        for (int step = 0; step < 3; step++)
        {
            for (int index = 0; index < lengths.Length; index++)
            {
                for (int i = 0; i < lengths[index]; i++)
                {
                    float gradient = gradients.NextSingle() - 0.5f;
                    serial[index].Gradient.Span[i] = gradient;
                    parallel[index].Gradient.Span[i] = gradient;
                }
            }
            serialAdam.Step(serial);
            parallelAdam.Step(parallel);
        }
        for (int index = 0; index < lengths.Length; index++)
        {
            Assert.That(parallel[index].Value.ReadOnlySpan.ToArray(), Is.EqualTo(serial[index].Value.ReadOnlySpan.ToArray()), $"parameter {index}");
            Assert.That(serial[index].Value.ReadOnlySpan.ToArray(), Is.Not.EqualTo(Make()[index].Value.ReadOnlySpan.ToArray()), "the steps changed the values");
        }
        Assert.That(parallelAdam.Iterations, Is.EqualTo(3));
    }

    [Test]
    public void RejectsBadHyperParameters()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(learningRate: -1));
        Assert.That(error!.Message, Does.Contain("-1").And.Contain("> 0"));
    }

    private static float[] Fill(RandomSource random, int length, float scale) =>
        Enumerable.Range(0, length).Select(_ => (float)random.NextGaussian() * scale).ToArray();

    private static void AssertPerElement(ReadOnlySpan<float> got, ReadOnlySpan<float> want, string what)
    {
        for (int i = 0; i < want.Length; i++)
        {
            Assert.That(got[i], Is.EqualTo(want[i]).Within(1e-6 * Math.Max(1, Math.Abs(want[i]))), $"{what}[{i}]");
        }
    }
}
