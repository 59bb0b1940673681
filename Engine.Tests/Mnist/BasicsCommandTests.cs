namespace Engine.Tests.Mnist;

public class BasicsCommandTests
{
    [Test]
    public void PrintsTheLabsNumbersAndShapesAndWritesEveryPicture()
    {
        using var folder = ConsoleRunner.TemporaryDirectory();
        ConsoleResult result = ConsoleRunner.Run("basics", "--out", folder["pictures"], "--data", ConsoleRunner.Data);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        string output = result.Output.ReplaceLineEndings("\n");
        Assert.Multiple(() =>
        {
            Assert.That(output, Does.Contain("image.shape (1, 3, 3, 1)\n[[1. 2. 3.]\n [4. 5. 6.]\n [7. 8. 9.]]"));
            Assert.That(output, Does.Contain("weight.shape (2, 2, 1, 1)\nconv2d.shape (1, 2, 2, 1)\n[[12. 16.]\n [24. 28.]]"));
            Assert.That(output, Does.Contain("conv2d.shape (1, 3, 3, 1)\n[[12. 16.  9.]\n [24. 28. 15.]\n [15. 17.  9.]]"));
            Assert.That(output, Does.Contain("weight.shape (2, 2, 1, 3)\nconv2d.shape (1, 3, 3, 3)\n[[12. 16.  9.]\n [24. 28. 15.]\n [15. 17.  9.]]\n"
                + "[[120. 160.  90.]\n [240. 280. 150.]\n [150. 170.  90.]]\n[[-12. -16.  -9.]\n [-24. -28. -15.]\n [-15. -17.  -9.]]"));
            Assert.That(output, Does.Contain("VALID: pool.shape (1, 1, 1, 1)\n[[4.]]"));
            Assert.That(output, Does.Contain("SAME: pool.shape (1, 2, 2, 1)\n[[4. 3.]\n [2. 1.]]"));
            Assert.That(output, Does.Contain("train_images[0]: label 5"));
            Assert.That(output, Does.Contain("weight.shape (3, 3, 1, 5)\nconv2d.shape (1, 14, 14, 5)"));
            Assert.That(output, Does.Contain("pool.shape (1, 7, 7, 5)"));
        });
        string[] pictures = Directory.GetFiles(folder["pictures"], "*.png");
        Assert.That(pictures, Has.Length.EqualTo(8));
        foreach (string picture in pictures)
        {
            Png.AssertValid(picture);
        }
    }
}

/// <summary>PNG checks.</summary>
public static class Png
{
    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Asserts <paramref name="path"/> exists, is larger than its signature and starts with the PNG signature.</summary>
    public static void AssertValid(string path)
    {
        Assert.That(File.Exists(path), Is.True, $"{path} was not written");
        byte[] bytes = File.ReadAllBytes(path);
        Assert.That(bytes.Length, Is.GreaterThan(Signature.Length + 100), $"{path} is too small");
        Assert.That(bytes[..Signature.Length], Is.EqualTo(Signature), $"{path} is not a PNG");
    }
}
