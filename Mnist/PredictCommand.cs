using System.CommandLine;
using System.Globalization;
using Engine;
using Engine.Data;

namespace Mnist;

/// <summary><c>predict</c>: the top 3 classes of a test image (<c>--index</c>) or a picture (<c>--image</c>), and the digit drawn in the terminal.</summary>
internal static class PredictCommand
{
    public static Command Create(ConsoleSession session)
    {
        var index = Options.OptionalInteger("--index", "A test-set image, 0-based.", 0, "I");
        var image = new Option<string?>("--image") { Description = "A PNG or JPEG of one digit (converted to 28x28 grayscale, white on black).", HelpName = "FILE" };
        var data = Options.Data();
        var checkpointDirectory = Options.CheckpointDirectory();
        var checkpoint = Options.Checkpoint();
        var threads = Options.Threads();
        var command = new Command("predict", "Classify one digit with a trained checkpoint: the top 3 classes and their probabilities.")
        {
            index, image, data, checkpointDirectory, checkpoint, threads,
        };
        command.Validators.Add(result =>
        {
            bool hasIndex = result.GetResult(index) is not null, hasImage = result.GetResult(image) is not null;
            if (hasIndex == hasImage)
            {
                result.AddError("predict needs exactly one of --index I (a test image) or --image FILE.");
            }
        });
        command.SetAction(parse => Cli.Guard(session, () => Run(session, parse.GetValue(index), parse.GetValue(image), parse.GetValue(data),
            parse.GetValue(checkpointDirectory)!, parse.GetValue(checkpoint), parse.GetValue(threads))));
        return command;
    }

    private static int Run(ConsoleSession session, int? index, string? imagePath, string? dataDirectory, string checkpointDirectory,
        string? checkpointName, int? threads)
    {
        TextWriter output = session.Out;
        string path = Checkpoints.Resolve(checkpointDirectory, checkpointName);
        float[] pixels;
        string title;
        if (index is int testIndex)
        {
            MnistDataset test = MnistData.LoadTest(dataDirectory);
            if (testIndex >= test.Count)
            {
                throw ConsoleException.Usage($"--index must be below {test.Count} (the test set's size); received {testIndex}.");
            }
            pixels = test.Images(testIndex, 1).ReadOnlySpan.ToArray();
            title = $"Test image {testIndex} (label {test.Labels[testIndex]})";
        }
        else
        {
            pixels = ImageInput.Load(imagePath!);
            title = $"Image {imagePath} as 28x28";
        }
        Sequential model = Checkpoints.LoadReferenceModel(path, threads);
        Tensor logits = model.Predict(Tensor.FromValues(new Shape(1, 28, 28, 1), pixels));
        double[] probabilities = Softmax(logits.ReadOnlySpan);

        output.WriteLine($"Checkpoint: {path}");
        output.WriteLine($"{title}:");
        output.WriteLine(Pictures.ToText(pixels, 28, 28));
        int rank = 1;
        foreach (int digit in Enumerable.Range(0, probabilities.Length).OrderByDescending(d => probabilities[d]).Take(3))
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{rank++}. {digit}  {probabilities[digit] * 100,7:F2}%"));
        }
        return ExitCodes.Success;
    }

    /// <summary>Softmax of one row of logits, in double.</summary>
    internal static double[] Softmax(ReadOnlySpan<float> logits)
    {
        double max = double.NegativeInfinity;
        foreach (float logit in logits)
        {
            max = Math.Max(max, logit);
        }
        var result = new double[logits.Length];
        double sum = 0;
        for (int index = 0; index < logits.Length; index++)
        {
            result[index] = Math.Exp(logits[index] - max);
            sum += result[index];
        }
        for (int index = 0; index < result.Length; index++)
        {
            result[index] /= sum;
        }
        return result;
    }
}
