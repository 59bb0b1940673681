using Engine.Kernels;
using NUnit.Framework;

namespace Engine.Tests.Kernels;

public sealed class TransposeTests
{
    [TestCase(1, 1)]
    [TestCase(7, 9)]
    [TestCase(16, 8)]
    [TestCase(37, 29)]
    [TestCase(100, 2048)]
    [TestCase(2048, 256)]
    public void MatrixMovesEveryValueToItsTransposedPlace(int rows, int columns)
    {
        var source = new float[rows * columns];
        for (int i = 0; i < source.Length; i++)
        {
            source[i] = i + 0.5f;
        }
        var destination = new float[rows * columns];
        Transpose.Matrix(source, rows, columns, destination);
        for (int row = 0; row < rows; row++)
        {
            for (int column = 0; column < columns; column++)
            {
                Assert.That(destination[column * rows + row], Is.EqualTo(source[row * columns + column]), $"[{row}, {column}]");
            }
        }
    }

    [Test]
    public void RowRangesTogetherEqualTheWholeTransposeAndTouchOnlyTheirColumns()
    {
        const int Rows = 45, Columns = 21;
        var source = new float[Rows * Columns];
        for (int i = 0; i < source.Length; i++)
        {
            source[i] = i;
        }
        var whole = new float[Rows * Columns];
        Transpose.Matrix(source, Rows, Columns, whole);
        var pieces = new float[Rows * Columns];
        Array.Fill(pieces, -1f);
        Transpose.Rows(source, Rows, Columns, pieces, 0, 17);
        Assert.That(pieces[17], Is.EqualTo(-1f), "row 17 is not in the first range");
        Transpose.Rows(source, Rows, Columns, pieces, 17, 40);
        Transpose.Rows(source, Rows, Columns, pieces, 40, Rows);
        Assert.That(pieces, Is.EqualTo(whole));
    }

    [Test]
    public void ABufferTooSmallIsRefused()
    {
        Assert.That(() => Transpose.Matrix(new float[10], 3, 4, new float[12]), Throws.ArgumentException.With.Message.Contains("[3, 4]"));
    }
}
