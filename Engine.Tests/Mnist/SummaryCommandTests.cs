namespace Engine.Tests.Mnist;

public class SummaryCommandTests
{
    [Test]
    public void PrintsTheKerasTableWith619786TrainableParameters()
    {
        ConsoleResult result = ConsoleRunner.Run("summary");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Output, Does.Contain("Trainable params: 619,786"));
        Assert.That(result.Output, Does.Contain("conv2d (Conv2D)").And.Contain("(None, 28, 28, 32)").And.Contain("dense_1 (Dense)"));
    }
}
