using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Engine.Checkpoint;

/// <summary>
/// Reads and writes one checkpoint file (layout in docs/checkpoint-format.md): a versioned little-endian
/// binary ending in a SHA-256 checksum. <see cref="Save"/> is atomic; <see cref="Load"/> validates the magic,
/// the version, the length, the checksum and every field before it returns anything.
/// </summary>
public static class CheckpointFile
{
    /// <summary>The format version this code writes; files of a newer version are refused.</summary>
    public static uint CurrentVersion => CheckpointFormat.CurrentVersion;

    /// <summary>
    /// Writes <paramref name="contents"/> to <paramref name="path"/> atomically: into a temporary file in the
    /// same directory (<c>.{name}.{hex}.tmp</c>), flushed to disk, then renamed over <paramref name="path"/>.
    /// A crash at any moment leaves the previous file at <paramref name="path"/> intact and loadable.
    /// Equal contents give byte-identical files.
    /// </summary>
    /// <exception cref="ArgumentException">The contents are invalid: an empty or repeated name, a null entry, a negative count.</exception>
    public static void Save(string path, CheckpointContents contents) => Save(path, contents, wrap: null);

    /// <summary><see cref="Save(string, CheckpointContents)"/> through <paramref name="wrap"/> (see <see cref="CheckpointManager.WrapWrites"/>).</summary>
    internal static void Save(string path, CheckpointContents contents, Func<FileStream, Stream>? wrap)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(contents);
        ValidateForSave(contents);
        byte[] metadata = EncodeMetadata(contents);
        long payloadLength = 4 * (TotalElements(contents.Parameters) + TotalElements(contents.OptimizerSlots));
        long fileLength = CheckpointFormat.HeaderLength + metadata.Length + payloadLength + CheckpointFormat.ChecksumLength;

        string fullPath = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
        AtomicFile.Write(fullPath, stream =>
        {
            using var writer = new LittleEndianWriter(stream);
            writer.WriteBytes(CheckpointFormat.Magic);
            writer.WriteUInt32(CheckpointFormat.CurrentVersion);
            writer.WriteUInt32(0); // flags, reserved
            writer.WriteUInt64((ulong)fileLength);
            writer.WriteBytes(metadata);
            foreach (NamedTensor parameter in contents.Parameters)
            {
                writer.WriteFloats(parameter.Value.ReadOnlySpan);
            }
            foreach (NamedTensor slot in contents.OptimizerSlots)
            {
                writer.WriteFloats(slot.Value.ReadOnlySpan);
            }
            writer.WriteChecksum();
            if (writer.Position != fileLength)
            {
                throw new InvalidOperationException($"Checkpoint writer produced {writer.Position} bytes; expected {fileLength}.");
            }
        }, wrap);
    }

    /// <summary>
    /// Reads and validates the checkpoint at <paramref name="path"/>. Nothing is allocated from a length field
    /// before it has been checked against the file size.
    /// </summary>
    /// <exception cref="CheckpointCorruptException">The file is truncated, damaged (checksum differs) or not a checkpoint.</exception>
    /// <exception cref="CheckpointVersionException">The file was written in a newer format version.</exception>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    public static CheckpointContents Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string fullPath = Path.GetFullPath(path);
        using var stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, FileOptions.SequentialScan);
        long length = stream.Length;
        uint flags = ReadHeader(stream, fullPath, length);
        VerifyChecksum(stream, fullPath, length);
        if (flags != 0)
        {
            throw new CheckpointCorruptException(fullPath,
                $"its reserved flags are 0x{flags:x8}; expected 0 in format version {CheckpointFormat.CurrentVersion}.");
        }
        var reader = new BoundedReader(stream, CheckpointFormat.HeaderLength, length - CheckpointFormat.ChecksumLength, fullPath);
        return ReadBody(reader);
    }

    /// <summary>
    /// Checks that <paramref name="contents"/> fits a model with the given parameters (and, when given, optimizer
    /// slots and architecture description). Names are compared, not positions.
    /// </summary>
    /// <exception cref="CheckpointMismatchException">
    /// Anything differs; the one exception lists every differing parameter (name, expected and found shape),
    /// every missing and unexpected name, and a differing architecture.
    /// </exception>
    public static void ValidateAgainst(
        CheckpointContents contents,
        IReadOnlyList<(string Name, Shape Shape)> expectedParameters,
        IReadOnlyList<(string Name, Shape Shape)>? expectedSlots = null,
        string? expectedArchitecture = null)
    {
        ArgumentNullException.ThrowIfNull(contents);
        ArgumentNullException.ThrowIfNull(expectedParameters);
        List<string> differences = FindDifferences(contents, expectedParameters, expectedSlots, expectedArchitecture);
        if (differences.Count > 0)
        {
            throw new CheckpointMismatchException("The checkpoint", differences);
        }
    }

    /// <summary>
    /// Loads the checkpoint at <paramref name="path"/>, checks that it fits <paramref name="parameters"/> (and
    /// <paramref name="optimizerSlots"/> and <paramref name="expectedArchitecture"/> when given), then copies the
    /// stored values into those tensors. Nothing is copied unless everything fits. Returns the contents for the
    /// rest of the state (optimizer step, epoch, random states, metadata).
    /// </summary>
    /// <exception cref="CheckpointMismatchException">The checkpoint does not fit; the message lists every difference and names the file.</exception>
    /// <exception cref="CheckpointCorruptException">The file is damaged.</exception>
    /// <exception cref="CheckpointVersionException">The file was written in a newer format version.</exception>
    public static CheckpointContents LoadInto(
        string path,
        IReadOnlyList<Parameter> parameters,
        IReadOnlyList<NamedTensor>? optimizerSlots = null,
        string? expectedArchitecture = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        CheckpointContents contents = Load(path);
        var expectedParameters = parameters.Select(parameter => (parameter.Name, parameter.Value.Shape)).ToList();
        var expectedSlots = optimizerSlots?.Select(slot => (slot.Name, slot.Value.Shape)).ToList();
        List<string> differences = FindDifferences(contents, expectedParameters, expectedSlots, expectedArchitecture);
        if (differences.Count > 0)
        {
            throw new CheckpointMismatchException($"Checkpoint '{Path.GetFullPath(path)}'", differences);
        }
        var storedParameters = contents.Parameters.ToDictionary(parameter => parameter.Name, StringComparer.Ordinal);
        foreach (Parameter parameter in parameters)
        {
            storedParameters[parameter.Name].Value.ReadOnlySpan.CopyTo(parameter.Value.Span);
        }
        if (optimizerSlots is not null)
        {
            var storedSlots = contents.OptimizerSlots.ToDictionary(slot => slot.Name, StringComparer.Ordinal);
            foreach (NamedTensor slot in optimizerSlots)
            {
                storedSlots[slot.Name].Value.ReadOnlySpan.CopyTo(slot.Value.Span);
            }
        }
        return contents;
    }

    private static List<string> FindDifferences(
        CheckpointContents contents,
        IReadOnlyList<(string Name, Shape Shape)> expectedParameters,
        IReadOnlyList<(string Name, Shape Shape)>? expectedSlots,
        string? expectedArchitecture)
    {
        var differences = new List<string>();
        if (expectedArchitecture is not null && !string.Equals(expectedArchitecture, contents.Architecture, StringComparison.Ordinal))
        {
            differences.Add("architecture " + DescribeTextDifference(expectedArchitecture, contents.Architecture));
        }
        CompareTensors("parameter", expectedParameters, contents.Parameters, differences);
        if (expectedSlots is not null)
        {
            CompareTensors("optimizer slot", expectedSlots, contents.OptimizerSlots, differences);
        }
        return differences;
    }

    private static void CompareTensors(
        string kind,
        IReadOnlyList<(string Name, Shape Shape)> expected,
        IReadOnlyList<NamedTensor> found,
        List<string> differences)
    {
        var foundShapes = new Dictionary<string, Shape>(StringComparer.Ordinal);
        foreach (NamedTensor tensor in found)
        {
            foundShapes[tensor.Name] = tensor.Value.Shape;
        }
        var expectedNames = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string name, Shape shape) in expected)
        {
            expectedNames.Add(name);
            if (!foundShapes.TryGetValue(name, out Shape foundShape))
            {
                differences.Add($"{kind} {name}: expected shape {shape}, missing from the checkpoint");
            }
            else if (foundShape != shape)
            {
                differences.Add($"{kind} {name}: expected shape {shape}, found {foundShape}");
            }
        }
        foreach (NamedTensor tensor in found)
        {
            if (!expectedNames.Contains(tensor.Name))
            {
                differences.Add($"{kind} {tensor.Name}: unexpected, found shape {tensor.Value.Shape} in the checkpoint but the model has no such {kind}");
            }
        }
    }

    /// <summary>Describes where two descriptions differ: both whole when they are one line, else the first differing line.</summary>
    private static string DescribeTextDifference(string expected, string found)
    {
        string[] expectedLines = expected.Split('\n');
        string[] foundLines = found.Split('\n');
        if (expectedLines.Length == 1 && foundLines.Length == 1)
        {
            return $"differs: expected \"{expected}\", found \"{found}\"";
        }
        int line = 0;
        while (line < expectedLines.Length && line < foundLines.Length && expectedLines[line] == foundLines[line])
        {
            line++;
        }
        string expectedLine = line < expectedLines.Length ? $"\"{expectedLines[line].TrimEnd('\r')}\"" : "(end of text)";
        string foundLine = line < foundLines.Length ? $"\"{foundLines[line].TrimEnd('\r')}\"" : "(end of text)";
        return $"differs at line {line + 1}: expected {expectedLine}, found {foundLine}";
    }

    private static void ValidateForSave(CheckpointContents contents)
    {
        ArgumentNullException.ThrowIfNull(contents.Architecture, "contents.Architecture");
        ValidateTensors(contents.Parameters, "contents.Parameters");
        ValidateTensors(contents.OptimizerSlots, "contents.OptimizerSlots");
        ArgumentNullException.ThrowIfNull(contents.OptimizerName, "contents.OptimizerName");
        if (contents.Epoch < 0 || contents.Step < 0 || contents.OptimizerStep < 0)
        {
            throw new ArgumentException(
                $"A checkpoint expects Epoch, Step and OptimizerStep >= 0; received Epoch={contents.Epoch}, Step={contents.Step}, " +
                $"OptimizerStep={contents.OptimizerStep}.", nameof(contents));
        }
        ArgumentNullException.ThrowIfNull(contents.RandomStates, "contents.RandomStates");
        foreach ((string name, ulong[] state) in contents.RandomStates)
        {
            if (string.IsNullOrEmpty(name) || state is null)
            {
                throw new ArgumentException(
                    $"Every random state needs a non-empty name and a non-null state; received name \"{name}\" with " +
                    $"{(state is null ? "a null state" : $"{state.Length} words")}.", nameof(contents));
            }
        }
        ArgumentNullException.ThrowIfNull(contents.Metadata, "contents.Metadata");
        foreach ((string key, string value) in contents.Metadata)
        {
            if (string.IsNullOrEmpty(key) || value is null)
            {
                throw new ArgumentException(
                    $"Every metadata entry needs a non-empty key and a non-null value; received key \"{key}\" with value " +
                    $"{(value is null ? "null" : $"\"{value}\"")}.", nameof(contents));
            }
        }
    }

    private static void ValidateTensors(IReadOnlyList<NamedTensor> tensors, string what)
    {
        ArgumentNullException.ThrowIfNull(tensors, what);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int index = 0; index < tensors.Count; index++)
        {
            NamedTensor? tensor = tensors[index];
            if (tensor is null || tensor.Value is null || string.IsNullOrEmpty(tensor.Name))
            {
                throw new ArgumentException(
                    $"{what}[{index}] must be a tensor with a non-empty name; received {(tensor is null ? "null" : $"name \"{tensor.Name}\"")}.",
                    what);
            }
            if (!names.Add(tensor.Name))
            {
                throw new ArgumentException($"{what} holds the name \"{tensor.Name}\" twice (again at index {index}); expected unique names.", what);
            }
        }
    }

    private static long TotalElements(IReadOnlyList<NamedTensor> tensors)
    {
        long total = 0;
        foreach (NamedTensor tensor in tensors)
        {
            total += tensor.Value.Length;
        }
        return total;
    }

    /// <summary>The metadata section: everything but the header, the payloads and the checksum.</summary>
    private static byte[] EncodeMetadata(CheckpointContents contents)
    {
        using var memory = new MemoryStream();
        using (var writer = new LittleEndianWriter(memory))
        {
            writer.WriteString(contents.Architecture);
            writer.WriteCount(contents.Metadata.Count);
            foreach (string key in contents.Metadata.Keys.Order(StringComparer.Ordinal))
            {
                writer.WriteString(key);
                writer.WriteString(contents.Metadata[key]);
            }
            writer.WriteInt32(contents.Epoch);
            writer.WriteInt64(contents.Step);
            writer.WriteCount(contents.RandomStates.Count);
            foreach (string name in contents.RandomStates.Keys.Order(StringComparer.Ordinal))
            {
                ulong[] state = contents.RandomStates[name];
                writer.WriteString(name);
                writer.WriteCount(state.Length);
                foreach (ulong word in state)
                {
                    writer.WriteUInt64(word);
                }
            }
            writer.WriteString(contents.OptimizerName);
            writer.WriteInt64(contents.OptimizerStep);
            WriteTensorTable(writer, contents.Parameters);
            WriteTensorTable(writer, contents.OptimizerSlots);
            writer.Flush();
        }
        return memory.ToArray();
    }

    private static void WriteTensorTable(LittleEndianWriter writer, IReadOnlyList<NamedTensor> tensors)
    {
        writer.WriteCount(tensors.Count);
        foreach (NamedTensor tensor in tensors)
        {
            writer.WriteString(tensor.Name);
            writer.WriteCount(tensor.Value.Shape.Rank);
            foreach (int dimension in tensor.Value.Shape.Dimensions)
            {
                writer.WriteInt32(dimension);
            }
        }
    }

    /// <summary>
    /// Checks size, magic, version and declared length, and returns the flags. These come before the checksum
    /// because they decide how the rest is read (a newer version may hash differently).
    /// </summary>
    private static uint ReadHeader(FileStream stream, string path, long length)
    {
        if (length < CheckpointFormat.MinimumLength)
        {
            throw new CheckpointCorruptException(path,
                $"it holds {length} bytes, fewer than the {CheckpointFormat.MinimumLength} bytes of a header and checksum; " +
                "it is truncated or not a checkpoint.");
        }
        Span<byte> header = stackalloc byte[CheckpointFormat.HeaderLength];
        stream.Position = 0;
        stream.ReadExactly(header);
        ReadOnlySpan<byte> magic = header[..8];
        if (!magic.SequenceEqual(CheckpointFormat.Magic))
        {
            throw new CheckpointCorruptException(path,
                $"it does not start with the checkpoint magic: found {DescribeBytes(magic)}, expected {DescribeBytes(CheckpointFormat.Magic)}.");
        }
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        if (version == 0)
        {
            throw new CheckpointCorruptException(path, $"its format version is 0; expected 1 to {CheckpointFormat.CurrentVersion}.");
        }
        if (version > CheckpointFormat.CurrentVersion)
        {
            throw new CheckpointVersionException(path, version, CheckpointFormat.CurrentVersion);
        }
        ulong declaredLength = BinaryPrimitives.ReadUInt64LittleEndian(header[16..]);
        if (declaredLength > (ulong)length)
        {
            throw new CheckpointCorruptException(path, $"it is truncated: its header declares {declaredLength} bytes but the file holds {length}.");
        }
        if (declaredLength < (ulong)length)
        {
            throw new CheckpointCorruptException(path,
                $"its header declares {declaredLength} bytes but the file holds {length} ({(ulong)length - declaredLength} unexpected bytes at the end).");
        }
        return BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
    }

    private static void VerifyChecksum(FileStream stream, string path, long length)
    {
        long hashedLength = length - CheckpointFormat.ChecksumLength;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[1 << 16];
        stream.Position = 0;
        long left = hashedLength;
        while (left > 0)
        {
            int chunk = (int)Math.Min(buffer.Length, left);
            stream.ReadExactly(buffer, 0, chunk);
            hash.AppendData(buffer, 0, chunk);
            left -= chunk;
        }
        Span<byte> computed = stackalloc byte[CheckpointFormat.ChecksumLength];
        hash.GetHashAndReset(computed);
        Span<byte> stored = stackalloc byte[CheckpointFormat.ChecksumLength];
        stream.ReadExactly(stored);
        if (!computed.SequenceEqual(stored))
        {
            throw new CheckpointCorruptException(path,
                $"its SHA-256 checksum differs: stored {Convert.ToHexStringLower(stored)}, computed {Convert.ToHexStringLower(computed)} " +
                $"over its first {hashedLength} bytes. The file is damaged.");
        }
    }

    private static CheckpointContents ReadBody(BoundedReader reader)
    {
        string architecture = reader.ReadString("architecture");
        int metadataCount = reader.ReadCount("metadata count", 2 * sizeof(uint));
        var metadata = new Dictionary<string, string>(metadataCount, StringComparer.Ordinal);
        for (int index = 0; index < metadataCount; index++)
        {
            string key = reader.ReadString($"metadata key {index}");
            string value = reader.ReadString($"metadata value \"{key}\"");
            if (key.Length == 0)
            {
                throw reader.Corrupt($"metadata key {index} is empty; expected a non-empty key.");
            }
            if (!metadata.TryAdd(key, value))
            {
                throw reader.Corrupt($"the metadata key \"{key}\" appears twice; expected unique keys.");
            }
        }
        int epoch = reader.ReadInt32("epoch");
        long step = reader.ReadInt64("step");
        int randomCount = reader.ReadCount("random state count", 2 * sizeof(uint));
        var randomStates = new Dictionary<string, ulong[]>(randomCount, StringComparer.Ordinal);
        for (int index = 0; index < randomCount; index++)
        {
            string name = reader.ReadString($"random state name {index}");
            if (name.Length == 0)
            {
                throw reader.Corrupt($"random state name {index} is empty; expected a non-empty name.");
            }
            int wordCount = reader.ReadCount($"word count of random state \"{name}\"", sizeof(ulong));
            ulong[] words = new ulong[wordCount];
            for (int word = 0; word < wordCount; word++)
            {
                words[word] = reader.ReadUInt64($"random state \"{name}\" word {word}");
            }
            if (!randomStates.TryAdd(name, words))
            {
                throw reader.Corrupt($"the random state \"{name}\" appears twice; expected unique names.");
            }
        }
        string optimizerName = reader.ReadString("optimizer name");
        long optimizerStep = reader.ReadInt64("optimizer step");
        if (epoch < 0 || step < 0 || optimizerStep < 0)
        {
            throw reader.Corrupt($"expected epoch, step and optimizer step >= 0; found epoch {epoch}, step {step}, optimizer step {optimizerStep}.");
        }

        List<(string Name, Shape Shape)> parameterTable = ReadTensorTable(reader, "parameter");
        List<(string Name, Shape Shape)> slotTable = ReadTensorTable(reader, "optimizer slot");
        long payloadLength = 0;
        foreach ((_, Shape shape) in parameterTable.Concat(slotTable))
        {
            payloadLength += 4L * shape.Size;
        }
        if (payloadLength != reader.Remaining)
        {
            throw reader.Corrupt(
                $"its tensor tables describe {payloadLength} bytes of float32 payload, but {reader.Remaining} bytes lie between the tables and the checksum.");
        }

        return new CheckpointContents
        {
            Architecture = architecture,
            Metadata = metadata,
            Epoch = epoch,
            Step = step,
            RandomStates = randomStates,
            OptimizerName = optimizerName,
            OptimizerStep = optimizerStep,
            Parameters = ReadPayloads(reader, parameterTable, "parameter"),
            OptimizerSlots = ReadPayloads(reader, slotTable, "optimizer slot"),
        };
    }

    private static List<(string Name, Shape Shape)> ReadTensorTable(BoundedReader reader, string kind)
    {
        // An entry takes at least a name length, a rank and one dimension.
        int count = reader.ReadCount($"{kind} count", 3 * sizeof(uint));
        var table = new List<(string Name, Shape Shape)>(count);
        var names = new HashSet<string>(StringComparer.Ordinal);
        int[] dimensions = new int[CheckpointFormat.MaximumRank];
        for (int index = 0; index < count; index++)
        {
            string name = reader.ReadString($"{kind} name {index}");
            if (name.Length == 0 || !names.Add(name))
            {
                throw reader.Corrupt($"{kind} {index} has {(name.Length == 0 ? "an empty name" : $"the name \"{name}\" again")}; expected unique non-empty names.");
            }
            uint rank = reader.ReadUInt32($"rank of {kind} \"{name}\"");
            if (rank < 1 || rank > CheckpointFormat.MaximumRank)
            {
                throw reader.Corrupt($"{kind} \"{name}\" has rank {rank}; expected 1 to {CheckpointFormat.MaximumRank}.");
            }
            long size = 1;
            for (int axis = 0; axis < rank; axis++)
            {
                int dimension = reader.ReadInt32($"dimension {axis} of {kind} \"{name}\"");
                size *= Math.Max(dimension, 1);
                if (dimension <= 0 || size > Array.MaxLength)
                {
                    throw reader.Corrupt(dimension <= 0
                        ? $"{kind} \"{name}\" has dimension {dimension} on axis {axis}; expected a positive dimension."
                        : $"{kind} \"{name}\" holds more than {Array.MaxLength} elements; expected at most that many.");
                }
                dimensions[axis] = dimension;
            }
            table.Add((name, new Shape(dimensions.AsSpan(0, (int)rank))));
        }
        return table;
    }

    private static List<NamedTensor> ReadPayloads(BoundedReader reader, List<(string Name, Shape Shape)> table, string kind)
    {
        var tensors = new List<NamedTensor>(table.Count);
        foreach ((string name, Shape shape) in table)
        {
            var tensor = new Tensor(shape);
            reader.ReadFloats(tensor.Span, $"values of {kind} \"{name}\"");
            tensors.Add(new NamedTensor(name, tensor));
        }
        return tensors;
    }

    /// <summary>Bytes as printable text and hex, e.g. <c>"ENGCKPT\0" (45 4e 47 43 4b 50 54 00)</c>.</summary>
    private static string DescribeBytes(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder();
        foreach (byte value in bytes)
        {
            text.Append(value is >= 0x20 and < 0x7f ? ((char)value).ToString() : value == 0 ? "\\0" : "?");
        }
        return $"\"{text}\" ({Convert.ToHexStringLower(bytes)})";
    }
}
