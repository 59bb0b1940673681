namespace Engine.Data;

/// <summary>tf.data's <c>shuffle(buffer_size, seed, reshuffle_each_iteration=True)</c> settings.</summary>
/// <param name="BufferSize">The number of examples the shuffle buffer holds (1 keeps the input order; at least the example count gives a uniform shuffle).</param>
/// <param name="Seed">The seed; with the epoch it fixes each epoch's order on every machine.</param>
public readonly record struct ShuffleOptions(int BufferSize, ulong Seed);

/// <summary>
/// Mini-batches as tf.data's <c>Dataset.from_tensor_slices((images, labels)).shuffle(bufferSize, seed).batch(batchSize, dropRemainder)</c>,
/// with the labels one-hot encoded. Without <see cref="ShuffleOptions"/> the examples come in their stored order (for evaluation).
/// </summary>
/// <remarks>
/// The shuffle is tf.data's buffered shuffle: fill a buffer with the first <c>BufferSize</c> examples, then
/// repeatedly emit a uniformly chosen buffer element and put the next input example in its place (once the
/// input is exhausted the buffer drains). Each epoch draws from its own random source derived from
/// (seed, epoch), so the order of epoch e never depends on which epochs were iterated before: a resumed run
/// sees the same batches as an uninterrupted one. The examples are float32 (a tensor) or uint8 pixels, which
/// each batch converts to <c>pixel / 255f</c> (a quarter of the memory for the whole set; the same floats as
/// scaling the set up front). Batches are written into tensors allocated once; the tensors of a yielded
/// <see cref="Batch"/> are overwritten by the next one. Not thread-safe.
/// </remarks>
public sealed class ShuffledBatches : IBatchSource
{
    private readonly Tensor? _images;         // [N, H, W, C] float32 examples, or null when _pixels holds them
    private readonly ReadOnlyMemory<byte> _pixels; // [N, H, W, C] uint8 examples (when _images is null)
    private readonly int _exampleLength;      // H * W * C
    private readonly int[] _labels;           // [N]
    private readonly int _classes;
    private readonly int _batchSize;
    private readonly ShuffleOptions? _shuffle;
    private readonly int _examplesPerEpoch;
    private readonly int[] _order;            // [N] the example order of the current epoch
    private readonly int[] _shuffleBuffer;    // [min(BufferSize, N)]
    private readonly Tensor _batchImages;     // [B, H, W, C]
    private readonly Tensor _batchLabels;     // [B, classes]
    private readonly Tensor? _lastImages;     // [N mod B, H, W, C] view of _batchImages, when the last batch is partial
    private readonly Tensor? _lastLabels;     // [N mod B, classes] view of _batchLabels

    /// <summary>
    /// Creates the batches of <paramref name="images"/> (examples along the first dimension) and their
    /// <paramref name="labels"/> (classes 0 to <paramref name="classes"/> - 1, copied).
    /// </summary>
    /// <param name="images">The examples [N, ...]; read at every batch, not copied.</param>
    /// <param name="labels">The class of each example [N].</param>
    /// <param name="classes">The number of classes (the width of a one-hot row).</param>
    /// <param name="batchSize">The examples per batch.</param>
    /// <param name="shuffle">The shuffle settings, or null to keep the stored order.</param>
    /// <param name="dropRemainder">Drop the last batch when it has fewer than <paramref name="batchSize"/> examples.</param>
    public ShuffledBatches(Tensor images, ReadOnlySpan<int> labels, int classes, int batchSize, ShuffleOptions? shuffle,
        bool dropRemainder = false)
        : this(CheckTensor(images), default, ExampleShapeOf(images), labels, classes, batchSize, shuffle, dropRemainder)
    {
    }

    /// <summary>
    /// Creates the batches of the uint8 examples <paramref name="pixels"/> ([N, ...exampleShape], row-major),
    /// each converted to <c>pixel / 255f</c> as it is batched (Keras's <c>x.astype("float32") / 255</c>), and
    /// their <paramref name="labels"/> (classes 0 to <paramref name="classes"/> - 1, copied).
    /// </summary>
    /// <param name="pixels">The examples, <c>exampleShape.Size</c> bytes each; read at every batch, not copied.</param>
    /// <param name="exampleShape">The shape of one example, e.g. [28, 28, 1]; a batch is [B, ...exampleShape].</param>
    /// <param name="labels">The class of each example [N].</param>
    /// <param name="classes">The number of classes (the width of a one-hot row).</param>
    /// <param name="batchSize">The examples per batch.</param>
    /// <param name="shuffle">The shuffle settings, or null to keep the stored order.</param>
    /// <param name="dropRemainder">Drop the last batch when it has fewer than <paramref name="batchSize"/> examples.</param>
    public ShuffledBatches(ReadOnlyMemory<byte> pixels, Shape exampleShape, ReadOnlySpan<int> labels, int classes, int batchSize,
        ShuffleOptions? shuffle, bool dropRemainder = false)
        : this(null, CheckPixels(pixels, exampleShape, labels.Length), exampleShape, labels, classes, batchSize, shuffle, dropRemainder)
    {
    }

    private ShuffledBatches(Tensor? images, ReadOnlyMemory<byte> pixels, Shape exampleShape, ReadOnlySpan<int> labels, int classes,
        int batchSize, ShuffleOptions? shuffle, bool dropRemainder)
    {
        int count = labels.Length;
        if (images is not null && images.Shape[0] != count)
        {
            throw new ArgumentException(
                $"Batching needs one label per example: images {images.Shape} hold {images.Shape[0]} examples; received {labels.Length} labels.", nameof(labels));
        }
        if (classes < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(classes), $"Batching needs at least 1 class; received {classes}.");
        }
        if (batchSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(batchSize), $"The batch size must be at least 1; received {batchSize}.");
        }
        if (shuffle is { BufferSize: < 1 } options)
        {
            throw new ArgumentOutOfRangeException(nameof(shuffle), $"The shuffle buffer size must be at least 1; received {options.BufferSize}.");
        }
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classes)
            {
                throw new ArgumentOutOfRangeException(nameof(labels), $"Label {i} is {labels[i]}; expected a class in [0, {classes}).");
            }
        }

        _images = images;
        _pixels = pixels;
        _exampleLength = exampleShape.Size;
        _labels = labels.ToArray();
        _classes = classes;
        _batchSize = batchSize;
        _shuffle = shuffle;
        _order = new int[count];
        _shuffleBuffer = new int[Math.Min(shuffle?.BufferSize ?? 1, count)];

        int remainder = count % batchSize;
        bool keepPartial = remainder != 0 && !dropRemainder;
        BatchesPerEpoch = count / batchSize + (keepPartial ? 1 : 0);
        _examplesPerEpoch = dropRemainder ? count - remainder : count;

        int rows = Math.Max(1, Math.Min(batchSize, count));
        _batchImages = new Tensor(exampleShape.PrependBatch(rows));
        _batchLabels = new Tensor(rows, classes);
        if (keepPartial && count > batchSize)
        {
            _lastImages = _batchImages.SliceBatch(0, remainder);
            _lastLabels = _batchLabels.SliceBatch(0, remainder);
        }
    }

    /// <summary>Batches in the stored order, without shuffling (for evaluation); the last partial batch is kept.</summary>
    public static ShuffledBatches Sequential(Tensor images, ReadOnlySpan<int> labels, int classes, int batchSize) =>
        new(images, labels, classes, batchSize, shuffle: null);

    /// <summary>Batches of uint8 examples (converted to <c>pixel / 255f</c>) in the stored order, without shuffling (for evaluation); the last partial batch is kept.</summary>
    public static ShuffledBatches Sequential(ReadOnlyMemory<byte> pixels, Shape exampleShape, ReadOnlySpan<int> labels, int classes, int batchSize) =>
        new(pixels, exampleShape, labels, classes, batchSize, shuffle: null);

    /// <inheritdoc />
    public int ExampleCount => _examplesPerEpoch;

    /// <inheritdoc />
    public int BatchesPerEpoch { get; }

    /// <summary>The examples per full batch.</summary>
    public int BatchSize => _batchSize;

    /// <summary>The shuffle settings, or null when batches keep the stored order.</summary>
    public ShuffleOptions? Shuffle => _shuffle;

    /// <summary>
    /// The batches of epoch <paramref name="epoch"/> (0-based). Each yielded batch's tensors are reused by the
    /// next one; copy them to keep them. Only one epoch may be iterated at a time.
    /// </summary>
    public IEnumerable<Batch> GetEpoch(int epoch)
    {
        CheckEpoch(epoch);
        return Iterate(epoch);
    }

    /// <summary>
    /// Writes the order in which epoch <paramref name="epoch"/> visits the examples (all N of them, before any
    /// remainder is dropped) into <paramref name="destination"/>.
    /// </summary>
    public void GetOrder(int epoch, Span<int> destination)
    {
        CheckEpoch(epoch);
        if (destination.Length != _labels.Length)
        {
            throw new ArgumentException(
                $"The order of {_labels.Length} examples needs a destination of {_labels.Length}; received {destination.Length}.", nameof(destination));
        }
        if (_shuffle is not ShuffleOptions shuffle)
        {
            for (int i = 0; i < destination.Length; i++)
            {
                destination[i] = i;
            }
            return;
        }
        BufferedShuffle(new RandomSource(EpochSeed(shuffle.Seed, epoch)), _shuffleBuffer, destination);
    }

    /// <summary>
    /// tf.data's buffered shuffle of the indices 0..N-1 (N = <paramref name="destination"/>.Length): fill the buffer,
    /// then emit a random buffer element and replace it with the next index; when the input is exhausted, the
    /// buffer's last element fills the hole and the buffer shrinks.
    /// </summary>
    internal static void BufferedShuffle(RandomSource random, Span<int> buffer, Span<int> destination)
    {
        int count = destination.Length;
        int filled = 0;
        int next = 0;
        while (filled < buffer.Length && next < count)
        {
            buffer[filled++] = next++;
        }
        for (int output = 0; output < count; output++)
        {
            int slot = random.NextInt(filled);
            destination[output] = buffer[slot];
            if (next < count)
            {
                buffer[slot] = next++;
            }
            else
            {
                buffer[slot] = buffer[--filled];
            }
        }
    }

    /// <summary>The seed of one epoch's random source: a mix of the seed and the epoch, so that epochs and nearby seeds draw unrelated streams.</summary>
    internal static ulong EpochSeed(ulong seed, int epoch) => Mix(Mix(seed) + (ulong)epoch);

    private IEnumerable<Batch> Iterate(int epoch)
    {
        GetOrder(epoch, _order);
        for (int batch = 0; batch < BatchesPerEpoch; batch++)
        {
            int start = batch * _batchSize;
            int count = Math.Min(_batchSize, _labels.Length - start);
            bool partial = count < _batchImages.Shape[0];
            Tensor images = partial ? _lastImages! : _batchImages;
            Tensor labels = partial ? _lastLabels! : _batchLabels;
            Fill(_order.AsSpan(start, count), images.Span, labels.Span);
            yield return new Batch(images, labels);
        }
    }

    /// <summary>
    /// Copies the examples <paramref name="indices"/> into one batch: images row by row (uint8 pixels scaled to
    /// <c>pixel / 255f</c> on the way), labels one-hot.
    /// </summary>
    private void Fill(ReadOnlySpan<int> indices, Span<float> images, Span<float> labels)
    {
        int perExample = _exampleLength;
        ReadOnlySpan<float> floats = _images is null ? default : _images.ReadOnlySpan;
        ReadOnlySpan<byte> pixels = _pixels.Span;
        labels.Clear();
        for (int row = 0; row < indices.Length; row++)
        {
            int example = indices[row];
            Span<float> destination = images.Slice(row * perExample, perExample);
            if (_images is not null)
            {
                floats.Slice(example * perExample, perExample).CopyTo(destination);
            }
            else
            {
                PixelScale.Scale(pixels.Slice(example * perExample, perExample), destination);
            }
            labels[row * _classes + _labels[example]] = 1f;
        }
    }

    private static Tensor CheckTensor(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Shape.Rank < 2)
        {
            throw new ArgumentException(
                $"Batching expects examples along the first dimension of a tensor of rank 2 or more; received shape {images.Shape}.", nameof(images));
        }
        return images;
    }

    private static Shape ExampleShapeOf(Tensor images) => CheckTensor(images).Shape.WithoutBatch();

    private static ReadOnlyMemory<byte> CheckPixels(ReadOnlyMemory<byte> pixels, Shape exampleShape, int count)
    {
        if (exampleShape.Rank == 0)
        {
            throw new ArgumentException("Batching needs an example shape of rank 1 or more; received a rank-0 shape.", nameof(exampleShape));
        }
        if (pixels.Length != (long)count * exampleShape.Size)
        {
            throw new ArgumentException(
                $"Batching needs one example of shape {exampleShape} ({exampleShape.Size} bytes) per label: {count} labels need {(long)count * exampleShape.Size} bytes; received {pixels.Length}.",
                nameof(pixels));
        }
        return pixels;
    }

    private static void CheckEpoch(int epoch)
    {
        if (epoch < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(epoch), $"Epochs count from 0; received {epoch}.");
        }
    }

    /// <summary>The SplitMix64 finalizer: a bijective mix of 64 bits.</summary>
    private static ulong Mix(ulong value)
    {
        ulong z = value + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
