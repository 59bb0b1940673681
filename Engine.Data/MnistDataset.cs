namespace Engine.Data;

/// <summary>
/// One split of MNIST in memory: the images as stored, uint8 pixels [N, 28, 28] (a quarter of the memory of
/// float32), and the digit labels 0-9. Batches, <see cref="Images(int, int)"/> and the tensors made from them
/// hold the pixels as float32 in [0, 1], pixel / 255f (as Keras's <c>x.astype("float32") / 255</c>), NHWC [N, 28, 28, 1].
/// </summary>
public sealed class MnistDataset
{
    /// <summary>Image height in pixels.</summary>
    public const int ImageHeight = 28;

    /// <summary>Image width in pixels.</summary>
    public const int ImageWidth = 28;

    /// <summary>The number of classes (digits 0-9).</summary>
    public const int ClassCount = 10;

    private const int PixelsPerImage = ImageHeight * ImageWidth;

    private readonly byte[] _pixels; // [N, H, W] uint8
    private readonly int[] _labels;  // [N]

    private MnistDataset(MnistSplit split, byte[] pixels, int[] labels)
    {
        Split = split;
        _pixels = pixels;
        _labels = labels;
    }

    /// <summary>The shape of one image as the model takes it: [28, 28, 1] (NHWC without the batch).</summary>
    public static Shape ImageShape { get; } = new(ImageHeight, ImageWidth, 1);

    /// <summary>Which split this is.</summary>
    public MnistSplit Split { get; }

    /// <summary>The images as stored in the file: uint8 pixels [N, 28, 28], row-major, 0 (background) to 255.</summary>
    public ReadOnlySpan<byte> Pixels => _pixels;

    /// <summary>The label (0-9) of each image.</summary>
    public ReadOnlySpan<int> Labels => _labels;

    /// <summary>The number of examples N.</summary>
    public int Count => _labels.Length;

    /// <summary>
    /// Loads <paramref name="split"/> from <paramref name="directory"/>, which holds its images and labels
    /// files uncompressed or as .gz (see <see cref="MnistFiles"/>); keeps only the first
    /// <paramref name="limit"/> examples when given (all when the limit exceeds the count, as tf.data's take).
    /// </summary>
    /// <exception cref="FileNotFoundException">A file is missing; the message names both forms tried.</exception>
    /// <exception cref="InvalidDataException">A file is malformed, not MNIST-shaped, or the image and label counts differ.</exception>
    public static MnistDataset Load(string directory, MnistSplit split, int? limit = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        CheckLimit(limit);
        string imagesPath = FindOrThrow(directory, MnistFiles.ImagesName(split));
        string labelsPath = FindOrThrow(directory, MnistFiles.LabelsName(split));
        IdxArray labels = IdxReader.Read(labelsPath);
        IdxArray images = IdxReader.Read(imagesPath);
        return Create(images, labels, split, limit, imagesPath, labelsPath, ownsImages: true);
    }

    /// <summary>
    /// Builds a dataset from IDX arrays already read: <paramref name="images"/> uint8 [N, 28, 28] and
    /// <paramref name="labels"/> uint8 [N] with values 0-9 (both copied). The sources name the arrays in error messages.
    /// </summary>
    /// <exception cref="InvalidDataException">The arrays are not MNIST-shaped or their counts differ.</exception>
    public static MnistDataset FromIdx(IdxArray images, IdxArray labels, MnistSplit split, int? limit = null,
        string imagesSource = "images", string labelsSource = "labels") =>
        Create(images, labels, split, limit, imagesSource, labelsSource, ownsImages: false);

    /// <summary>
    /// All images as a new float32 tensor [N, 28, 28, 1] of pixel / 255f: four times the memory of <see cref="Pixels"/>
    /// (188 MB for the training split); <see cref="Batches"/> converts one batch at a time instead.
    /// </summary>
    public Tensor Images() => Images(0, Count);

    /// <summary>Images <paramref name="start"/> to <paramref name="start"/> + <paramref name="count"/> - 1 as a new float32 tensor [count, 28, 28, 1] of pixel / 255f.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is empty or not inside [0, <see cref="Count"/>).</exception>
    public Tensor Images(int start, int count)
    {
        if (start < 0 || count < 1 || (long)start + count > Count)
        {
            throw new ArgumentOutOfRangeException(nameof(count),
                $"Images [{start}, {(long)start + count}) are outside the {Count} images of MNIST {Split} (expected 0 <= start, 1 <= count, start + count <= {Count}).");
        }
        var images = new Tensor(ImageShape.PrependBatch(count)); // [count, H, W, 1]
        PixelScale.Scale(_pixels.AsSpan(start * PixelsPerImage, count * PixelsPerImage), images.Span);
        return images;
    }

    /// <summary>The labels one-hot encoded: a new tensor [N, 10].</summary>
    public Tensor OneHotLabels() => OneHot.Encode(Labels, ClassCount);

    /// <summary>
    /// The mini-batches of this dataset, images [B, 28, 28, 1] of pixel / 255f and one-hot labels: shuffled as
    /// tf.data's <c>shuffle(bufferSize, seed)</c> when <paramref name="shuffle"/> is given, in order when it is null;
    /// then <c>batch(batchSize, dropRemainder)</c>. Each batch is converted from the stored pixels into one reused tensor.
    /// </summary>
    public ShuffledBatches Batches(int batchSize, ShuffleOptions? shuffle, bool dropRemainder = false) =>
        new(_pixels, ImageShape, Labels, ClassCount, batchSize, shuffle, dropRemainder);

    /// <inheritdoc />
    public override string ToString() => $"MNIST {Split}: {Count} images {ImageShape.PrependBatch(Count)}";

    private static MnistDataset Create(IdxArray images, IdxArray labels, MnistSplit split, int? limit,
        string imagesSource, string labelsSource, bool ownsImages)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        CheckLimit(limit);
        if (images.ElementType != IdxElementType.UnsignedByte || images.Rank != 3
            || images.Dimensions[1] != ImageHeight || images.Dimensions[2] != ImageWidth)
        {
            throw new InvalidDataException(
                $"{imagesSource}: found {images}; expected MNIST images: UnsignedByte [N, {ImageHeight}, {ImageWidth}].");
        }
        if (labels.ElementType != IdxElementType.UnsignedByte || labels.Rank != 1)
        {
            throw new InvalidDataException($"{labelsSource}: found {labels}; expected MNIST labels: UnsignedByte [N].");
        }
        int imageCount = images.Dimensions[0];
        int labelCount = labels.Dimensions[0];
        if (imageCount != labelCount)
        {
            throw new InvalidDataException(
                $"MNIST image and label counts differ: {imagesSource} holds {imageCount} images; {labelsSource} holds {labelCount} labels.");
        }

        int count = Math.Min(imageCount, limit ?? imageCount);
        ReadOnlySpan<byte> labelBytes = labels.GetValues<byte>()[..count];
        int[] labelValues = new int[count];
        for (int i = 0; i < count; i++)
        {
            if (labelBytes[i] >= ClassCount)
            {
                throw new InvalidDataException($"{labelsSource}: label {i} is {labelBytes[i]}; expected a digit 0-{ClassCount - 1}.");
            }
            labelValues[i] = labelBytes[i];
        }

        // A freshly read array is kept as it is; a caller's array, or a part of one, is copied.
        byte[] pixels = ownsImages && count == imageCount
            ? (byte[])images.Values
            : images.GetValues<byte>()[..(count * PixelsPerImage)].ToArray();
        return new MnistDataset(split, pixels, labelValues);
    }

    private static string FindOrThrow(string directory, string name) =>
        MnistFiles.Find(directory, name) ?? throw new FileNotFoundException(
            $"MNIST file {name} not found in {directory}: tried {Path.Combine(directory, name)} and {Path.Combine(directory, name + ".gz")}.",
            Path.Combine(directory, name));

    private static void CheckLimit(int? limit)
    {
        if (limit < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), $"The example limit must be at least 1 (or null for all); received {limit}.");
        }
    }
}
