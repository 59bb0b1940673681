using ScottPlot;

namespace Mnist;

/// <summary>PNG charts (ScottPlot): loss and accuracy per epoch, the confusion matrix.</summary>
internal static class Plots
{
    private const int Width = 800, Height = 500;

    /// <summary>Writes <c>loss.png</c> and <c>accuracy.png</c> (train and test per epoch) into <paramref name="directory"/>; returns their paths.</summary>
    public static string[] SaveTrainingCurves(string directory, IReadOnlyList<EpochReport> epochs)
    {
        double[] x = epochs.Select(e => (double)e.Epoch).ToArray();
        string loss = Path.Combine(directory, "loss.png");
        string accuracy = Path.Combine(directory, "accuracy.png");
        SaveCurves(loss, "Loss per epoch", "loss", x,
            ("train", epochs.Select(e => e.TrainLoss).ToArray()), ("test", epochs.Select(e => e.TestLoss).ToArray()));
        SaveCurves(accuracy, "Accuracy per epoch", "accuracy", x,
            ("train", epochs.Select(e => e.TrainAccuracy).ToArray()), ("test", epochs.Select(e => e.TestAccuracy).ToArray()));
        return [loss, accuracy];
    }

    private static void SaveCurves(string path, string title, string label, double[] x, params (string Name, double[] Values)[] series)
    {
        var plot = new Plot();
        foreach (var (name, values) in series)
        {
            var scatter = plot.Add.Scatter(x, values);
            scatter.LegendText = name;
            scatter.MarkerSize = 7;
        }
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel(label);
        plot.ShowLegend();
        if (x.Length == 1)
        {
            plot.Axes.SetLimitsX(x[0] - 1, x[0] + 1);
        }
        AtomicFile.WriteAllBytes(path, plot.GetImageBytes(Width, Height, ImageFormat.Png));
    }

    /// <summary>Writes the confusion matrix (rows: true digit, columns: predicted) as a heat map with counts.</summary>
    public static void SaveConfusionMatrix(string path, int[,] counts)
    {
        int classes = counts.GetLength(0);
        var intensities = new double[classes, classes];
        for (int truth = 0; truth < classes; truth++)
        {
            for (int predicted = 0; predicted < classes; predicted++)
            {
                intensities[truth, predicted] = Math.Log10(1 + counts[truth, predicted]);
            }
        }
        var plot = new Plot();
        var heatmap = plot.Add.Heatmap(intensities);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        heatmap.FlipVertically = true;
        for (int truth = 0; truth < classes; truth++)
        {
            for (int predicted = 0; predicted < classes; predicted++)
            {
                var text = plot.Add.Text(counts[truth, predicted].ToString(System.Globalization.CultureInfo.InvariantCulture), predicted, truth);
                text.LabelFontColor = Colors.White;
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontSize = 11;
            }
        }
        double[] ticks = Enumerable.Range(0, classes).Select(i => (double)i).ToArray();
        string[] labels = Enumerable.Range(0, classes).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        plot.Axes.Bottom.SetTicks(ticks, labels);
        plot.Axes.Left.SetTicks(ticks, labels);
        plot.Axes.SetLimits(-0.5, classes - 0.5, classes - 0.5, -0.5);
        plot.Title("Confusion matrix (rows: true digit, columns: predicted)");
        plot.XLabel("predicted");
        plot.YLabel("true");
        AtomicFile.WriteAllBytes(path, plot.GetImageBytes(700, 700, ImageFormat.Png));
    }
}
