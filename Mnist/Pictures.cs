using System.Text;
using SkiaSharp;

namespace Mnist;

/// <summary>A grayscale picture: row-major values [Height, Width] with a caption.</summary>
internal sealed record GrayImage(float[] Values, int Height, int Width, string Caption = "");

/// <summary>Grayscale pictures as PNG (feature maps, digits) and digits drawn in the terminal.</summary>
internal static class Pictures
{
    private const int Gap = 8;

    /// <summary>
    /// Draws <paramref name="images"/> side by side, each scaled by <paramref name="scale"/> and
    /// stretched from its own minimum (black) to maximum (white), as matplotlib's imshow(cmap='gray').
    /// Captions, when present, go under each image. Written atomically as PNG.
    /// </summary>
    public static void SaveRow(string path, IReadOnlyList<GrayImage> images, int scale, int columns = int.MaxValue)
    {
        columns = Math.Min(columns, images.Count);
        int rows = (images.Count + columns - 1) / columns;
        bool captions = images.Any(i => i.Caption.Length > 0);
        int cellWidth = images.Max(i => i.Width) * scale, cellHeight = images.Max(i => i.Height) * scale;
        int captionHeight = captions ? 18 : 0;
        int width = Gap + columns * (cellWidth + Gap), height = Gap + rows * (cellHeight + captionHeight + Gap);
        using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(new SKColor(64, 64, 64));
            using var font = new SKFont(SKTypeface.Default, 13);
            using var paint = new SKPaint { Color = SKColors.White, IsAntialias = true };
            for (int index = 0; index < images.Count; index++)
            {
                GrayImage image = images[index];
                int left = Gap + index % columns * (cellWidth + Gap), top = Gap + index / columns * (cellHeight + captionHeight + Gap);
                DrawImage(canvas, image, left, top, scale);
                if (image.Caption.Length > 0)
                {
                    canvas.DrawText(image.Caption, left + 2, top + image.Height * scale + 14, SKTextAlign.Left, font, paint);
                }
            }
        }
        using SKData data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        AtomicFile.WriteAllBytes(path, data.AsSpan());
    }

    /// <summary>One image as PNG (see <see cref="SaveRow"/>).</summary>
    public static void Save(string path, GrayImage image, int scale) => SaveRow(path, [image], scale);

    private static void DrawImage(SKCanvas canvas, GrayImage image, int left, int top, int scale)
    {
        float min = image.Values.Min(), max = image.Values.Max();
        float range = max > min ? max - min : 1f;
        using var paint = new SKPaint();
        for (int y = 0; y < image.Height; y++)
        {
            for (int x = 0; x < image.Width; x++)
            {
                byte level = (byte)Math.Clamp(MathF.Round((image.Values[y * image.Width + x] - min) / range * 255f), 0, 255);
                paint.Color = new SKColor(level, level, level);
                canvas.DrawRect(left + x * scale, top + y * scale, scale, scale, paint);
            }
        }
    }

    /// <summary>
    /// Draws a 28x28 image with values in [0, 1] as text: two characters per pixel, shaded
    /// ' ', '░', '▒', '▓', '█' from black to white, framed.
    /// </summary>
    public static string ToText(ReadOnlySpan<float> pixels, int height, int width)
    {
        const string shades = " ░▒▓█";
        var text = new StringBuilder();
        text.Append('┌').Append('─', 2 * width).Append('┐').AppendLine();
        for (int y = 0; y < height; y++)
        {
            text.Append('│');
            for (int x = 0; x < width; x++)
            {
                int shade = (int)Math.Clamp(MathF.Round(pixels[y * width + x] * (shades.Length - 1)), 0, shades.Length - 1);
                text.Append(shades[shade], 2);
            }
            text.Append('│').AppendLine();
        }
        text.Append('└').Append('─', 2 * width).Append('┘');
        return text.ToString();
    }
}
