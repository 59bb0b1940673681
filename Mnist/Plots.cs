using System.Globalization;
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
        plot.Axes.Bottom.SetTicks(x, x.Select(e => e.ToString(CultureInfo.InvariantCulture)).ToArray());
        if (x.Length == 1)
        {
            plot.Axes.SetLimitsX(x[0] - 1, x[0] + 1);
        }
        AtomicFile.WriteAllBytes(path, plot.GetImageBytes(Width, Height, ImageFormat.Png));
    }

    /// <summary>Writes the confusion matrix (rows: true digit from the top, columns: predicted) as coloured cells with counts.</summary>
    public static void SaveConfusionMatrix(string path, int[,] counts)
    {
        int classes = counts.GetLength(0);
        double largest = Math.Log10(1 + counts.Cast<int>().Max());
        var colormap = new ScottPlot.Colormaps.Viridis();
        var plot = new Plot();
        for (int truth = 0; truth < classes; truth++)
        {
            double y = classes - 1 - truth; // the first true digit at the top
            for (int predicted = 0; predicted < classes; predicted++)
            {
                int count = counts[truth, predicted];
                var cell = plot.Add.Rectangle(predicted - 0.5, predicted + 0.5, y - 0.5, y + 0.5);
                Color fill = colormap.GetColor(largest > 0 ? Math.Log10(1 + count) / largest : 0);
                cell.FillStyle.Color = fill;
                cell.LineStyle.Width = 0;
                var text = plot.Add.Text(count.ToString(CultureInfo.InvariantCulture), predicted, y);
                text.LabelFontColor = fill.Luminance > 0.5 ? Colors.Black : Colors.White;
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontSize = 12;
            }
        }
        double[] positions = Enumerable.Range(0, classes).Select(i => (double)i).ToArray();
        plot.Axes.Bottom.SetTicks(positions, positions.Select(p => p.ToString(CultureInfo.InvariantCulture)).ToArray());
        plot.Axes.Left.SetTicks(positions, positions.Select(p => (classes - 1 - p).ToString(CultureInfo.InvariantCulture)).ToArray());
        plot.Axes.SetLimits(-0.5, classes - 0.5, -0.5, classes - 0.5);
        plot.Title("Confusion matrix (rows: true digit, columns: predicted)");
        plot.XLabel("predicted");
        plot.YLabel("true");
        AtomicFile.WriteAllBytes(path, plot.GetImageBytes(700, 700, ImageFormat.Png));
    }
}
