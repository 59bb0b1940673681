using System.Diagnostics;

namespace Engine.Kernels;

/// <summary>Matrix transpose of a row-major [R, C] buffer.</summary>
public static class Transpose
{
    private const int Block = 32;

    /// <summary>destination[C, R] = source[R, C]ᵀ, in cache-sized blocks.</summary>
    public static void Matrix(ReadOnlySpan<float> source, int rows, int columns, Span<float> destination)
    {
        Debug.Assert(source.Length >= rows * columns && destination.Length >= rows * columns);
        for (int rowBlock = 0; rowBlock < rows; rowBlock += Block)
        {
            int rowEnd = Math.Min(rowBlock + Block, rows);
            for (int columnBlock = 0; columnBlock < columns; columnBlock += Block)
            {
                int columnEnd = Math.Min(columnBlock + Block, columns);
                for (int row = rowBlock; row < rowEnd; row++)
                {
                    for (int column = columnBlock; column < columnEnd; column++)
                    {
                        destination[column * rows + row] = source[row * columns + column];
                    }
                }
            }
        }
    }
}
