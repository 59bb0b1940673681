using Engine.Data;

namespace Engine.Tests.Data;

public sealed class IdxArrayTests
{
    [Test]
    public void GetValues_OfTheWrongType_SaysBothTypes()
    {
        IdxArray array = IdxArray.Create(new byte[] { 1, 2 }, 2);

        var exception = Assert.Throws<InvalidOperationException>(() => array.GetValues<float>().ToArray())!;

        Assert.That(exception.Message, Does.Contain("UnsignedByte").And.Contain("Single"));
    }

    [Test]
    public void Create_RejectsCountThatDisagreesWithDimensions()
    {
        var exception = Assert.Throws<ArgumentException>(() => IdxArray.Create(new int[5], 2, 3))!;

        Assert.That(exception.Message, Does.Contain("[2, 3]").And.Contain("6 elements").And.Contain("received 5"));
    }

    [Test]
    public void CopyTo_ConvertsToFloatAndDouble()
    {
        IdxArray array = IdxArray.Create(new short[] { -7, 300 }, 2);
        float[] singles = new float[2];
        double[] doubles = new double[2];

        array.CopyTo(singles);
        array.CopyTo(doubles);

        Assert.That(singles, Is.EqualTo(new[] { -7f, 300f }));
        Assert.That(doubles, Is.EqualTo(new[] { -7.0, 300.0 }));
        Assert.Throws<ArgumentException>(() => array.CopyTo(new float[3]));
    }

    [Test]
    public void Create_RejectsUnsupportedElementTypes()
    {
        var exception = Assert.Throws<ArgumentException>(() => IdxArray.Create(new long[2], 2))!;

        Assert.That(exception.Message, Does.Contain("Int64").And.Contain("byte, sbyte, short, int, float or double"));
    }

    [Test]
    public void Create_InfersTheElementTypeAndKeepsTheDimensions()
    {
        IdxArray array = IdxArray.Create(new sbyte[6], 1, 2, 3);

        Assert.That(array.ElementType, Is.EqualTo(IdxElementType.SignedByte));
        Assert.That(array.Dimensions.ToArray(), Is.EqualTo(new[] { 1, 2, 3 }));
        Assert.That(array.Rank, Is.EqualTo(3));
        Assert.That(array.Count, Is.EqualTo(6));
        Assert.That(array.ToString(), Is.EqualTo("IdxArray SignedByte [1, 2, 3]"));
    }
}
