namespace Engine.Data;

/// <summary>
/// One split of MNIST in memory: images as an NHWC float tensor [N, 28, 28, 1] scaled to [0, 1]
/// (pixel / 255f, as Keras's <c>x.astype("float32") / 255</c>) and the digit labels 0-9.
/// </summary>
public sealed class MnistDataset
{
    /// <summary>Image height in pixels.</summary>
    public const int ImageHeight = 28;

    /// <summary>Image width in pixels.</summary>
    public const int ImageWidth = 28;

    /// <summary>The number of classes (digits 0-9).</summary>
    public const int ClassCount = 10;

    private static readonly float[] ScaledPixels = Enumerable.Range(0, 256).Select(value => value / 255f).ToArray();

    private readonly int[] _labels;

    private MnistDataset(MnistSplit split, Tensor images, int[] labels)
    {
        Split = split;
        Images = images;
        _labels = labels;
    }

    /// <summary>Which split this is.</summary>
    public MnistSplit Split { get; }

    /// <summary>The images [N, 28, 28, 1], values in [0, 1].</summary>
    public Tensor Images { get; }

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
        return FromIdx(images, labels, split, limit, imagesPath, labelsPath);
    }

    /// <summary>
    /// Builds a dataset from IDX arrays already read: <paramref name="images"/> uint8 [N, 28, 28] and
    /// <paramref name="labels"/> uint8 [N] with values 0-9. The sources name the arrays in error messages.
    /// </summary>
    /// <exception cref="InvalidDataException">The arrays are not MNIST-shaped or their counts differ.</exception>
    public static MnistDataset FromIdx(IdxArray images, IdxArray labels, MnistSplit split, int? limit = null,
        string imagesSource = "images", string labelsSource = "labels")
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

        var imageTensor = new Tensor(count, ImageHeight, ImageWidth, 1); // [N, H, W, C]
        Scale(images.GetValues<byte>()[..imageTensor.Length], imageTensor.Span);
        return new MnistDataset(split, imageTensor, labelValues);
    }

    /// <summary>The labels one-hot encoded: a new tensor [N, 10].</summary>
    public Tensor OneHotLabels() => OneHot.Encode(Labels, ClassCount);

    /// <summary>
    /// The mini-batches of this dataset: shuffled as tf.data's <c>shuffle(bufferSize, seed)</c> when
    /// <paramref name="shuffle"/> is given, in order when it is null; then <c>batch(batchSize, dropRemainder)</c>.
    /// </summary>
    public ShuffledBatches Batches(int batchSize, ShuffleOptions? shuffle, bool dropRemainder = false) =>
        new(Images, Labels, ClassCount, batchSize, shuffle, dropRemainder);

    /// <inheritdoc />
    public override string ToString() => $"MNIST {Split}: {Count} images {Images.Shape}";

    /// <summary>pixel / 255f for every pixel, through a table of the 256 exact quotients.</summary>
    private static void Scale(ReadOnlySpan<byte> pixels, Span<float> destination)
    {
        ReadOnlySpan<float> table = ScaledPixels;
        for (int i = 0; i < pixels.Length; i++)
        {
            destination[i] = table[pixels[i]];
        }
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
