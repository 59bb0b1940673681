using SkiaSharp;

namespace Mnist;

/// <summary>
/// Turns a PNG or JPEG of a digit into an MNIST-like 28x28 image with values in [0, 1]: grayscale,
/// white digit on black (inverted when the picture is dark on light), the digit cropped and scaled to
/// fit 20x20 keeping its aspect ratio, then centred by its centre of mass, as MNIST was made.
/// </summary>
internal static class ImageInput
{
    private const int Size = 28, Box = 20;

    /// <summary>Reads and converts <paramref name="path"/>.</summary>
    /// <exception cref="ConsoleException">The file is missing or not a readable image.</exception>
    public static float[] Load(string path)
    {
        if (!File.Exists(path))
        {
            throw ConsoleException.Failure($"image '{path}' not found.");
        }
        using SKBitmap? bitmap = SKBitmap.Decode(path);
        if (bitmap is null || bitmap.Width < 1 || bitmap.Height < 1)
        {
            throw ConsoleException.Failure($"cannot read '{path}' as an image; expected a PNG or JPEG file.");
        }
        var gray = new float[bitmap.Height, bitmap.Width];
        for (int y = 0; y < bitmap.Height; y++)
        {
            for (int x = 0; x < bitmap.Width; x++)
            {
                SKColor color = bitmap.GetPixel(x, y);
                float luminance = (0.299f * color.Red + 0.587f * color.Green + 0.114f * color.Blue) / 255f;
                float alpha = color.Alpha / 255f; // transparent pixels count as the background (white paper)
                gray[y, x] = luminance * alpha + (1 - alpha);
            }
        }
        return ToMnist(gray);
    }

    /// <summary>Converts a grayscale picture (values in [0, 1], [height, width]) to the MNIST layout.</summary>
    public static float[] ToMnist(float[,] gray)
    {
        int height = gray.GetLength(0), width = gray.GetLength(1);
        if (BorderMean(gray) > 0.5f)
        {
            for (int y = 0; y < height; y++)
            {
                for (int x = 0; x < width; x++)
                {
                    gray[y, x] = 1f - gray[y, x];
                }
            }
        }
        // Stretch so the background is 0 and the strongest stroke 1.
        float background = BorderMean(gray), max = 0;
        foreach (float value in gray)
        {
            max = Math.Max(max, value);
        }
        float range = Math.Max(max - background, 1e-6f);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                gray[y, x] = Math.Clamp((gray[y, x] - background) / range, 0f, 1f);
            }
        }

        // The bounding box of the ink.
        int top = height, bottom = -1, left = width, right = -1;
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                if (gray[y, x] > 0.1f)
                {
                    top = Math.Min(top, y);
                    bottom = Math.Max(bottom, y);
                    left = Math.Min(left, x);
                    right = Math.Max(right, x);
                }
            }
        }
        var result = new float[Size * Size];
        if (bottom < 0)
        {
            return result; // a blank picture stays blank
        }
        int boxHeight = bottom - top + 1, boxWidth = right - left + 1;
        double scale = (double)Box / Math.Max(boxHeight, boxWidth);
        int scaledHeight = Math.Max(1, (int)Math.Round(boxHeight * scale)), scaledWidth = Math.Max(1, (int)Math.Round(boxWidth * scale));
        float[,] scaled = AreaResample(gray, top, left, boxHeight, boxWidth, scaledHeight, scaledWidth);

        // Centre of mass to the middle of the 28x28 field.
        double mass = 0, centreY = 0, centreX = 0;
        for (int y = 0; y < scaledHeight; y++)
        {
            for (int x = 0; x < scaledWidth; x++)
            {
                mass += scaled[y, x];
                centreY += y * scaled[y, x];
                centreX += x * scaled[y, x];
            }
        }
        centreY = mass > 0 ? centreY / mass : (scaledHeight - 1) / 2.0;
        centreX = mass > 0 ? centreX / mass : (scaledWidth - 1) / 2.0;
        int offsetY = Math.Clamp((int)Math.Round((Size - 1) / 2.0 - centreY), 0, Size - scaledHeight);
        int offsetX = Math.Clamp((int)Math.Round((Size - 1) / 2.0 - centreX), 0, Size - scaledWidth);
        for (int y = 0; y < scaledHeight; y++)
        {
            for (int x = 0; x < scaledWidth; x++)
            {
                result[(y + offsetY) * Size + x + offsetX] = scaled[y, x];
            }
        }
        return result;
    }

    /// <summary>The mean of the outermost rows and columns: the background level.</summary>
    private static float BorderMean(float[,] gray)
    {
        int height = gray.GetLength(0), width = gray.GetLength(1);
        double sum = 0;
        int count = 0;
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                if (y == 0 || x == 0 || y == height - 1 || x == width - 1)
                {
                    sum += gray[y, x];
                    count++;
                }
            }
        }
        return (float)(sum / count);
    }

    /// <summary>Resamples a region by averaging the source area under each destination pixel (box filter; also enlarges).</summary>
    private static float[,] AreaResample(float[,] source, int top, int left, int height, int width, int newHeight, int newWidth)
    {
        var result = new float[newHeight, newWidth];
        double stepY = (double)height / newHeight, stepX = (double)width / newWidth;
        for (int y = 0; y < newHeight; y++)
        {
            double y0 = y * stepY, y1 = y0 + stepY;
            for (int x = 0; x < newWidth; x++)
            {
                double x0 = x * stepX, x1 = x0 + stepX, sum = 0, area = 0;
                for (int sy = (int)y0; sy < Math.Min(height, (int)Math.Ceiling(y1)); sy++)
                {
                    double coverY = Math.Min(y1, sy + 1) - Math.Max(y0, sy);
                    for (int sx = (int)x0; sx < Math.Min(width, (int)Math.Ceiling(x1)); sx++)
                    {
                        double cover = coverY * (Math.Min(x1, sx + 1) - Math.Max(x0, sx));
                        sum += cover * source[top + sy, left + sx];
                        area += cover;
                    }
                }
                result[y, x] = area > 0 ? (float)(sum / area) : 0f;
            }
        }
        return result;
    }
}
