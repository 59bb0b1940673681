using Engine.Data;

namespace Engine.Tests.Data;

public sealed class OneHotTests
{
    [Test]
    public void Encode_PutsOneAtEachLabelsColumn()
    {
        Tensor encoded = OneHot.Encode([2, 0, 3], classes: 4);

        Assert.That(encoded.Shape, Is.EqualTo(new Shape(3, 4)));
        Assert.That(encoded.ReadOnlySpan.ToArray(), Is.EqualTo(new float[]
        {
            0, 0, 1, 0,
            1, 0, 0, 0,
            0, 0, 0, 1,
        }));
    }

    [Test]
    public void Encode_OverwritesTheWholeDestination()
    {
        float[] destination = [7, 7, 7, 7];

        OneHot.Encode([1, 0], classes: 2, destination);

        Assert.That(destination, Is.EqualTo(new float[] { 0, 1, 1, 0 }));
    }

    [TestCase(-1)]
    [TestCase(4)]
    public void Encode_RejectsLabelOutsideTheClasses(int label)
    {
        var exception = Assert.Throws<ArgumentOutOfRangeException>(() => OneHot.Encode([0, label], classes: 4))!;

        Assert.That(exception.Message, Does.Contain($"Label 1 is {label}").And.Contain("[0, 4)"));
    }

    [Test]
    public void Encode_RejectsDestinationOfTheWrongLength()
    {
        var exception = Assert.Throws<ArgumentException>(() => OneHot.Encode([0, 1], classes: 3, new float[5]))!;

        Assert.That(exception.Message, Does.Contain("needs a destination of 6").And.Contain("received 5"));
    }
}
