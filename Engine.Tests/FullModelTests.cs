using Engine.Optimizers;

namespace Engine.Tests;

/// <summary>The whole reference CNN against TensorFlow at fixed weights (full_model.json, full_model_activations.json).</summary>
public class FullModelTests
{
    private const string Name = "full_model_public_seed1900_batch4";

    private static (Sequential Model, Tensor Images, Tensor Labels) Load()
    {
        var golden = Golden.Case("full_model.json", Name);
        var inputs = golden.GetProperty("inputs");
        Tensor images = Golden.Tensor(inputs.GetProperty("x"));
        int[] labels = inputs.GetProperty("labels").EnumerateArray().Select(l => l.GetInt32()).ToArray();
        var oneHot = new Tensor(labels.Length, 10);
        for (int n = 0; n < labels.Length; n++)
        {
            oneHot[n, labels[n]] = 1f;
        }
        var model = ReferenceModels.MnistCnn(dropoutRate: 0);
        model.Build(ReferenceModels.MnistInput, new ModelOptions(BatchSize: images.Shape[0], Seed: 1, Threads: 2));
        var parameters = inputs.GetProperty("params").EnumerateArray().ToArray();
        Assert.That(model.Parameters, Has.Count.EqualTo(parameters.Length));
        for (int index = 0; index < parameters.Length; index++)
        {
            Tensor value = Golden.Tensor(parameters[index]);
            Assert.That(model.Parameters[index].Value.Shape, Is.EqualTo(value.Shape), parameters[index].GetProperty("name").GetString());
            value.ReadOnlySpan.CopyTo(model.Parameters[index].Value.Span);
        }
        return (model, images, oneHot);
    }

    [Test]
    public void ParameterCountIsTheReferenceModels()
    {
        var golden = Golden.Case("full_model.json", Name);
        var (model, _, _) = Load();
        Assert.That(model.ParameterCount, Is.EqualTo(golden.GetProperty("param_count").GetInt64()));
        Assert.That(model.Parameters.Select(p => p.Name), Is.EqualTo(new[]
        {
            "conv2d/kernel", "conv2d/bias", "conv2d_1/kernel", "conv2d_1/bias", "conv2d_2/kernel", "conv2d_2/bias",
            "dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias",
        }));
    }

    [Test]
    public void ActivationsMatch()
    {
        var expected = Golden.Case("full_model_activations.json", Name).GetProperty("expected");
        var (model, images, _) = Load();
        string[] names = ["conv1_relu", "pool1", "conv2_relu", "pool2", "conv3_relu", "pool3", null!, "dense1_relu", "logits"];
        Tensor activation = images;
        for (int index = 0; index < model.Layers.Count; index++)
        {
            activation = model.Layers[index].Forward(activation, training: false);
            if (names[index] is string name)
            {
                Golden.AssertClose(activation, Golden.Tensor(expected.GetProperty(name)), 1e-5, name);
            }
        }
    }

    [Test]
    public void LossGradientsAndOneAdamStepMatch()
    {
        var golden = Golden.Case("full_model.json", Name);
        var expected = golden.GetProperty("expected");
        var (model, images, labels) = Load();

        float loss = model.ComputeGradients(images, labels);
        double wantLoss = expected.GetProperty("loss").GetDouble();
        Assert.That(loss, Is.EqualTo(wantLoss).Within(1e-5 * Math.Max(1, Math.Abs(wantLoss))), "loss");
        Golden.AssertClose(model.Forward(images, training: false), Golden.Tensor(expected.GetProperty("logits")), 1e-5, "logits");

        var grads = expected.GetProperty("grads").EnumerateArray().ToArray();
        for (int index = 0; index < grads.Length; index++)
        {
            Golden.AssertClose(model.Parameters[index].Gradient, Golden.Tensor(grads[index]), 1e-4, model.Parameters[index].Name + " gradient");
        }

        // One Adam step from the engine's own gradients: 1e-5 absolute (SCHEMA.md).
        model.Compile(new Adam());
        model.Optimizer.Step(model.Parameters);
        var stepped = expected.GetProperty("adam_step1_params").EnumerateArray().ToArray();
        for (int index = 0; index < stepped.Length; index++)
        {
            Tensor want = Golden.Tensor(stepped[index]);
            ReadOnlySpan<float> got = model.Parameters[index].Value.ReadOnlySpan;
            for (int i = 0; i < want.Length; i++)
            {
                if (Math.Abs(got[i] - want.ReadOnlySpan[i]) > 1e-5)
                {
                    Assert.Fail($"{model.Parameters[index].Name}[{i}] after one step is {got[i]}, expected {want.ReadOnlySpan[i]} (±1e-5).");
                }
            }
        }

        var after = expected.GetProperty("after_step1");
        Tensor logits = model.Forward(images, training: false);
        Golden.AssertClose(logits, Golden.Tensor(after.GetProperty("logits")), 1e-5, "logits after one step");
    }

    [Test]
    public void OneAdamStepFromTheStoredGradientsMatches()
    {
        var expected = Golden.Case("full_model.json", Name).GetProperty("expected");
        var (model, _, _) = Load();
        var grads = expected.GetProperty("grads").EnumerateArray().ToArray();
        for (int index = 0; index < grads.Length; index++)
        {
            Golden.Tensor(grads[index]).ReadOnlySpan.CopyTo(model.Parameters[index].Gradient.Span);
        }
        model.Compile(new Adam());
        model.Optimizer.Step(model.Parameters);
        var stepped = expected.GetProperty("adam_step1_params").EnumerateArray().ToArray();
        for (int index = 0; index < stepped.Length; index++)
        {
            Tensor want = Golden.Tensor(stepped[index]);
            ReadOnlySpan<float> got = model.Parameters[index].Value.ReadOnlySpan;
            for (int i = 0; i < want.Length; i++)
            {
                double tolerance = 1e-6 * Math.Max(1, Math.Abs(want.ReadOnlySpan[i]));
                if (Math.Abs(got[i] - want.ReadOnlySpan[i]) > tolerance)
                {
                    Assert.Fail($"{model.Parameters[index].Name}[{i}] is {got[i]}, expected {want.ReadOnlySpan[i]} (±{tolerance:G3}).");
                }
            }
        }
    }
}
