using System.CommandLine;
using System.Globalization;
using System.Text;
using Engine;
using Engine.Data;

namespace Mnist;

/// <summary>
/// <c>evaluate</c>: test loss and accuracy of the latest (or a named) checkpoint, the confusion matrix
/// and per-class accuracy; with <c>--plots</c> the confusion matrix and the most confidently wrong
/// test images as PNG.
/// </summary>
internal static class EvaluateCommand
{
    private const int WrongImagesShown = 16;

    public static Command Create(ConsoleSession session)
    {
        var data = Options.Data();
        var checkpointDirectory = Options.CheckpointDirectory();
        var checkpoint = Options.Checkpoint();
        var threads = Options.Threads();
        var testLimit = Options.TestLimit();
        var plots = new Option<string?>("--plots") { Description = "Write confusion_matrix.png and most_confident_errors.png here.", HelpName = "DIR" };
        var command = new Command("evaluate", "Evaluate a checkpoint on the MNIST test set: loss, accuracy, confusion matrix, per-class accuracy.")
        {
            data, checkpointDirectory, checkpoint, threads, testLimit, plots,
        };
        command.SetAction(parse => Cli.Guard(session, () => Run(session, parse.GetValue(data), parse.GetValue(checkpointDirectory)!,
            parse.GetValue(checkpoint), parse.GetValue(threads), parse.GetValue(testLimit), parse.GetValue(plots))));
        return command;
    }

    private static int Run(ConsoleSession session, string? dataDirectory, string checkpointDirectory, string? checkpointName,
        int? threads, int? testLimit, string? plotsDirectory)
    {
        TextWriter output = session.Out;
        string path = Checkpoints.Resolve(checkpointDirectory, checkpointName);
        if (plotsDirectory is not null)
        {
            AtomicFile.EnsureWritableDirectory(plotsDirectory, "plots folder");
        }
        MnistDataset test = MnistData.LoadTest(dataDirectory, testLimit);
        int[] labels = test.Labels.ToArray();
        Sequential model = Checkpoints.LoadReferenceModel(path, threads);

        ShuffledBatches batches = test.Batches(model.Options.BatchSize, shuffle: null); // one batch of floats at a time
        Evaluation evaluation = model.Evaluate(batches);
        Tensor logits = model.Predict(batches);
        int classes = logits.Shape[1];
        var confusion = new int[classes, classes];
        var wrong = new List<(int Index, int Predicted, double Confidence)>();
        for (int example = 0; example < test.Count; example++)
        {
            double[] probabilities = PredictCommand.Softmax(logits.ReadOnlySpan.Slice(example * classes, classes));
            int predicted = ArgMax(probabilities);
            confusion[labels[example], predicted]++;
            if (predicted != labels[example])
            {
                wrong.Add((example, predicted, probabilities[predicted]));
            }
        }

        output.WriteLine($"Checkpoint: {path}");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Test images: {test.Count:N0}  loss {evaluation.Loss:F4}  accuracy {evaluation.Accuracy:F4} ({test.Count - wrong.Count:N0} correct)"));
        output.WriteLine();
        output.WriteLine(ConfusionTable(confusion));

        if (plotsDirectory is not null)
        {
            string matrixPath = Path.Combine(plotsDirectory, "confusion_matrix.png");
            Plots.SaveConfusionMatrix(matrixPath, confusion);
            var worst = wrong.OrderByDescending(w => w.Confidence).Take(WrongImagesShown).Select(w => new GrayImage(
                test.Images(w.Index, 1).ReadOnlySpan.ToArray(), 28, 28,
                string.Create(CultureInfo.InvariantCulture, $"#{w.Index}: {labels[w.Index]}→{w.Predicted} {w.Confidence:P0}"))).ToList();
            output.WriteLine();
            output.WriteLine($"Confusion matrix: {matrixPath}");
            if (worst.Count > 0)
            {
                string errorsPath = Path.Combine(plotsDirectory, "most_confident_errors.png");
                Pictures.SaveRow(errorsPath, worst, scale: 4, columns: 8);
                output.WriteLine($"Most confidently wrong test images: {errorsPath}");
            }
            else
            {
                output.WriteLine("No test image is misclassified; no error picture written.");
            }
        }
        return ExitCodes.Success;
    }

    /// <summary>The confusion matrix (rows: true digit, columns: predicted) with per-class accuracy, as plain text.</summary>
    internal static string ConfusionTable(int[,] confusion)
    {
        int classes = confusion.GetLength(0);
        var text = new StringBuilder();
        text.Append("true\\pred");
        for (int predicted = 0; predicted < classes; predicted++)
        {
            text.Append(CultureInfo.InvariantCulture, $"{predicted,6}");
        }
        text.AppendLine("   accuracy");
        for (int truth = 0; truth < classes; truth++)
        {
            int total = 0;
            text.Append(CultureInfo.InvariantCulture, $"{truth,9}");
            for (int predicted = 0; predicted < classes; predicted++)
            {
                text.Append(CultureInfo.InvariantCulture, $"{confusion[truth, predicted],6}");
                total += confusion[truth, predicted];
            }
            text.AppendLine(total == 0 ? "          -"
                : string.Create(CultureInfo.InvariantCulture, $"   {(double)confusion[truth, truth] / total:F4} ({confusion[truth, truth]}/{total})"));
        }
        return text.ToString().TrimEnd();
    }

    private static int ArgMax(double[] values)
    {
        int best = 0;
        for (int index = 1; index < values.Length; index++)
        {
            if (values[index] > values[best])
            {
                best = index;
            }
        }
        return best;
    }
}
