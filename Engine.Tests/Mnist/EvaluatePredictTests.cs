using SkiaSharp;

namespace Engine.Tests.Mnist;

[NonParallelizable]
public class EvaluatePredictTests
{
    [Test]
    public void EvaluatePrintsAccuracyTheConfusionMatrixAndPerClassAccuracyAndWritesPictures()
    {
        using var folder = ConsoleRunner.TemporaryDirectory();
        ConsoleResult result = ConsoleRunner.Run("evaluate", "--data", ConsoleRunner.Data, "--checkpoint-dir", TrainedCheckpoint.Directory,
            "--test-limit", "300", "--plots", folder.Path);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Output, Does.Contain("Test images: 300").And.Contain("accuracy"));
        string[] rows = result.Lines.SkipWhile(l => !l.StartsWith("true\\pred", StringComparison.Ordinal)).Skip(1).Take(10).ToArray();
        Assert.That(rows, Has.Length.EqualTo(10));
        int total = rows.Sum(row => row.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(10).Sum(int.Parse));
        Assert.That(total, Is.EqualTo(300), "the confusion matrix counts every test image once");
        Png.AssertValid(Path.Combine(folder.Path, "confusion_matrix.png"));
        Png.AssertValid(Path.Combine(folder.Path, "most_confident_errors.png"));
    }

    [Test]
    public void EvaluateTakesANamedCheckpoint()
    {
        ConsoleResult result = ConsoleRunner.Run("evaluate", "--data", ConsoleRunner.Data, "--checkpoint-dir", TrainedCheckpoint.Directory,
            "--checkpoint", "ckpt-0001.ckpt", "--test-limit", "100");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Output, Does.Contain("ckpt-0001.ckpt"));
    }

    [Test]
    public void PredictATestImagePrintsTheTopThreeAndDrawsIt()
    {
        ConsoleResult result = ConsoleRunner.Run("predict", "--index", "0", "--data", ConsoleRunner.Data, "--checkpoint-dir", TrainedCheckpoint.Directory);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Output, Does.Contain("Test image 0 (label 7)"));
        Assert.That(result.Lines.Count(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^[123]\. \d +\d+\.\d\d%$")), Is.EqualTo(3));
        Assert.That(result.Output, Does.Contain("█"));
    }

    [Test]
    public void PredictAnImageFileConvertsDarkOnLightToWhiteOnBlack()
    {
        using var folder = ConsoleRunner.TemporaryDirectory();
        string path = folder["digit.png"];
        using (var bitmap = new SKBitmap(60, 90))
        using (var canvas = new SKCanvas(bitmap))
        using (var pen = new SKPaint { Color = SKColors.Black, StrokeWidth = 8, IsAntialias = true })
        {
            canvas.Clear(SKColors.White);
            canvas.DrawLine(30, 10, 30, 80, pen); // a "1", dark on light
            using SKData data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(path, data.ToArray());
        }
        float[] pixels = global::Mnist.ImageInput.Load(path);
        Assert.That(pixels[0], Is.Zero, "the background becomes black");
        Assert.That(pixels.Max(), Is.EqualTo(1f), "the stroke becomes white");
        Assert.That(pixels[14 * 28 + 14], Is.GreaterThan(0.5f), "the digit is centred");

        ConsoleResult result = ConsoleRunner.Run("predict", "--image", path, "--checkpoint-dir", TrainedCheckpoint.Directory);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Output, Does.Contain("1. "));
    }
}
