using Engine.Data;

namespace Engine.Tests.Data;

public sealed class IdxWriterTests
{
    [Test]
    public void Write_ProducesBigEndianHeaderAndData()
    {
        var stream = new MemoryStream();
        IdxWriter.Write(IdxArray.Create(new short[] { 0x0102, -2, 7 }, 3, 1), stream);

        byte[] expected = [0, 0, 0x0B, 2, 0, 0, 0, 3, 0, 0, 0, 1, 0x01, 0x02, 0xFF, 0xFE, 0x00, 0x07];
        Assert.That(stream.ToArray(), Is.EqualTo(expected));
    }

    [Test]
    public void Write_Gzip_StartsWithTheGzipMagicAndReadsBack()
    {
        var stream = new MemoryStream();
        IdxWriter.Write(IdxArray.Create(new double[] { 1.25, -3 }, 2), stream, IdxCompression.Gzip);

        byte[] bytes = stream.ToArray();
        Assert.That(bytes[..2], Is.EqualTo(new byte[] { 0x1F, 0x8B }));
        Assert.That(IdxReader.Read(new MemoryStream(bytes), "written").GetValues<double>().ToArray(), Is.EqualTo(new[] { 1.25, -3 }));
    }
}
