using System.Buffers.Binary;
using System.IO.Compression;
using Engine;

namespace Mnist;

/// <summary>One MNIST split as tensors: images [N, 28, 28, 1] scaled to [0, 1], one-hot labels [N, 10] and the label values.</summary>
internal sealed record MnistSplit(Tensor Images, Tensor OneHotLabels, byte[] Labels)
{
    /// <summary>The number of examples.</summary>
    public int Count => Labels.Length;
}

/// <summary>
/// TEMPORARY loader until Engine.Data lands: finds the IDX files (explicit folder, $MNIST_DATA,
/// the shared folder above the working directory) and reads them. To be replaced by Engine.Data's
/// MnistLocator / MnistDataset / ShuffledBatches.
/// </summary>
internal static class MnistData
{
    /// <summary>Finds the MNIST folder: the explicit one, $MNIST_DATA, or a shared/data/mnist folder above the working directory.</summary>
    public static string Locate(string? directory)
    {
        if (directory is not null)
        {
            if (!Directory.Exists(directory))
            {
                throw ConsoleException.Failure($"the MNIST data folder '{directory}' does not exist.");
            }
            return directory;
        }
        string? fromEnvironment = Environment.GetEnvironmentVariable("MNIST_DATA");
        if (!string.IsNullOrEmpty(fromEnvironment) && Directory.Exists(fromEnvironment))
        {
            return fromEnvironment;
        }
        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var folder = new DirectoryInfo(start); folder is not null; folder = folder.Parent)
            {
                string candidate = Path.Combine(folder.FullName, "shared", "data", "mnist");
                if (Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
        }
        throw ConsoleException.Failure("no MNIST data found; pass --data DIR or set MNIST_DATA.");
    }

    /// <summary>The training split (the first <paramref name="limit"/> images when given).</summary>
    public static MnistSplit LoadTrain(string? directory, int? limit = null) => Load(Locate(directory), "train", limit);

    /// <summary>The test split (the first <paramref name="limit"/> images when given).</summary>
    public static MnistSplit LoadTest(string? directory, int? limit = null) => Load(Locate(directory), "t10k", limit);

    private static MnistSplit Load(string directory, string prefix, int? limit)
    {
        byte[] images = ReadIdx(directory, $"{prefix}-images-idx3-ubyte", 0x803, out int[] imageDimensions);
        byte[] labels = ReadIdx(directory, $"{prefix}-labels-idx1-ubyte", 0x801, out int[] labelDimensions);
        if (imageDimensions[0] != labelDimensions[0] || imageDimensions[1] != 28 || imageDimensions[2] != 28)
        {
            throw new InvalidDataException($"MNIST {prefix} files do not match: images [{string.Join(", ", imageDimensions)}], labels [{labelDimensions[0]}].");
        }
        int count = Math.Min(limit ?? int.MaxValue, labelDimensions[0]);
        var tensor = new Tensor(count, 28, 28, 1);
        Span<float> pixels = tensor.Span;
        for (int index = 0; index < pixels.Length; index++)
        {
            pixels[index] = images[index] / 255f;
        }
        var oneHot = new Tensor(count, 10);
        for (int index = 0; index < count; index++)
        {
            if (labels[index] > 9)
            {
                throw new InvalidDataException($"MNIST label {index} is {labels[index]}; expected 0..9.");
            }
            oneHot[index, labels[index]] = 1f;
        }
        return new MnistSplit(tensor, oneHot, labels[..count]);
    }

    private static byte[] ReadIdx(string directory, string name, int magic, out int[] dimensions)
    {
        string path = File.Exists(Path.Combine(directory, name)) ? Path.Combine(directory, name) : Path.Combine(directory, name + ".gz");
        if (!File.Exists(path))
        {
            throw ConsoleException.Failure($"MNIST file '{name}' (or '{name}.gz') is missing in '{directory}'.");
        }
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length > 2 && bytes[0] == 0x1f && bytes[1] == 0x8b)
        {
            using var input = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
            using var output = new MemoryStream();
            input.CopyTo(output);
            bytes = output.ToArray();
        }
        if (bytes.Length < 8 || BinaryPrimitives.ReadInt32BigEndian(bytes) != magic)
        {
            throw new InvalidDataException($"'{path}' is not an IDX file with magic 0x{magic:x8}.");
        }
        int rank = magic & 0xff;
        dimensions = new int[rank];
        long size = 1;
        for (int axis = 0; axis < rank; axis++)
        {
            dimensions[axis] = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 + 4 * axis));
            size *= dimensions[axis];
        }
        int header = 4 + 4 * rank;
        if (bytes.Length - header != size)
        {
            throw new InvalidDataException($"'{path}' holds {bytes.Length - header} data bytes; its header promises {size}.");
        }
        return bytes[header..];
    }
}

/// <summary>TEMPORARY batcher until Engine.Data lands: a full shuffle per epoch seeded by (seed, epoch), then batches.</summary>
internal sealed class TemporaryBatches : IBatchSource
{
    private readonly MnistSplit _split;
    private readonly int _batchSize;
    private readonly int _seed;
    private readonly Tensor _images;
    private readonly Tensor _labels;

    public TemporaryBatches(MnistSplit split, int batchSize, int seed)
    {
        _split = split;
        _batchSize = batchSize;
        _seed = seed;
        _images = new Tensor(batchSize, 28, 28, 1);
        _labels = new Tensor(batchSize, 10);
    }

    public int ExampleCount => _split.Count;

    public int BatchesPerEpoch => (ExampleCount + _batchSize - 1) / _batchSize;

    public IEnumerable<Batch> GetEpoch(int epoch)
    {
        var random = new RandomSource(unchecked((ulong)_seed * 1_000_003UL + (ulong)epoch));
        int[] order = Enumerable.Range(0, ExampleCount).ToArray();
        for (int index = order.Length - 1; index > 0; index--)
        {
            int other = random.NextInt(index + 1);
            (order[index], order[other]) = (order[other], order[index]);
        }
        for (int start = 0; start < ExampleCount; start += _batchSize)
        {
            int count = Math.Min(_batchSize, ExampleCount - start);
            for (int row = 0; row < count; row++)
            {
                _split.Images.SliceBatch(order[start + row], 1).ReadOnlySpan.CopyTo(_images.Span.Slice(row * 784, 784));
                _split.OneHotLabels.SliceBatch(order[start + row], 1).ReadOnlySpan.CopyTo(_labels.Span.Slice(row * 10, 10));
            }
            yield return count == _batchSize ? new Batch(_images, _labels) : new Batch(_images.SliceBatch(0, count), _labels.SliceBatch(0, count));
        }
    }
}
