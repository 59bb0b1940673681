using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Engine.Checkpoint;

/// <summary>
/// Keeps the last N checkpoints of a training run in one directory, like tf.train.CheckpointManager.
/// Files are named <c>{prefix}-{number:D4}.ckpt</c> by an increasing number; a text pointer file named
/// <c>checkpoint</c> records the latest and the kept ones. The pointer file is the commit record: a
/// save counts once the pointer names it. When the pointer file is missing or damaged, the manager scans
/// the directory for checkpoint files instead. Temporary files (<c>.{name}.{hex}.tmp</c>) are never taken
/// for checkpoints; stale ones left by a crashed writer are deleted by the next <see cref="Save"/>.
/// </summary>
/// <remarks>One process writes to a directory at a time; readers may run concurrently.</remarks>
public sealed class CheckpointManager
{
    /// <summary>The name of the pointer file in <see cref="Directory"/>.</summary>
    public const string PointerFileName = "checkpoint";

    private const string LatestKey = "model_checkpoint_path";
    private const string KeptKey = "all_model_checkpoint_paths";
    private const string Extension = ".ckpt";

    private readonly Regex _fileNamePattern;

    /// <summary>Creates a manager for <paramref name="directory"/>, which is created on the first save.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxToKeep"/> is less than 1.</exception>
    /// <exception cref="ArgumentException"><paramref name="prefix"/> is empty or not a plain file-name part.</exception>
    public CheckpointManager(string directory, int maxToKeep = 3, string prefix = "ckpt")
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (maxToKeep < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxToKeep), $"A checkpoint manager keeps at least 1 checkpoint; received maxToKeep={maxToKeep}.");
        }
        if (string.IsNullOrEmpty(prefix) || prefix.StartsWith('.') || prefix.IndexOfAny(['/', '\\', ':', '*', '?', '"', '<', '>', '|']) >= 0
            || prefix.Any(char.IsWhiteSpace) || prefix == PointerFileName)
        {
            throw new ArgumentException(
                $"A checkpoint prefix is a plain file-name part without path separators, wildcards, spaces or a leading dot; received \"{prefix}\".",
                nameof(prefix));
        }
        Directory = Path.GetFullPath(directory);
        MaxToKeep = maxToKeep;
        Prefix = prefix;
        _fileNamePattern = new Regex("^" + Regex.Escape(prefix) + @"-(\d{1,18})" + Regex.Escape(Extension) + "$", RegexOptions.CultureInvariant);
    }

    /// <summary>The full path of the managed directory.</summary>
    public string Directory { get; }

    /// <summary>How many checkpoints are kept; saving one more deletes the oldest.</summary>
    public int MaxToKeep { get; }

    /// <summary>The file-name prefix, <c>ckpt</c> by default.</summary>
    public string Prefix { get; }

    /// <summary>
    /// Tests only: wraps the stream of every file this manager writes (checkpoint and pointer), e.g. to fail
    /// part-way as a full disk does where no small file system can be mounted. Null: plain files.
    /// </summary>
    internal Func<FileStream, Stream>? WrapWrites { get; init; }

    /// <summary>The full path of the pointer file.</summary>
    public string PointerPath => Path.Combine(Directory, PointerFileName);

    /// <summary>
    /// The kept checkpoints' full paths, oldest first: those the pointer file lists, or when it is missing or
    /// damaged, every checkpoint file in the directory in number order. Read from disk on every call.
    /// </summary>
    public IReadOnlyList<string> Checkpoints => ReadPointer()?.Kept ?? ScanNumbers().Select(PathFor).ToList();

    /// <summary>
    /// The newest checkpoint's full path, or null when there is none: the pointer file's latest, or when it is
    /// missing or damaged, the highest-numbered checkpoint file (not yet validated; see <see cref="RestoreLatest"/>).
    /// </summary>
    public string? LatestPath => ReadPointer()?.Latest ?? ScanNumbers().Select(PathFor).LastOrDefault();

    /// <summary>The full path of checkpoint number <paramref name="number"/>, e.g. <c>{directory}/ckpt-0007.ckpt</c>.</summary>
    public string PathFor(long number)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(number);
        return Path.Combine(Directory, string.Create(CultureInfo.InvariantCulture, $"{Prefix}-{number:D4}{Extension}"));
    }

    /// <summary>
    /// Saves <paramref name="contents"/> as the next checkpoint and returns its full path. The number is
    /// <paramref name="number"/> when given (e.g. the epoch), else one more than the highest number present.
    /// The checkpoint file and then the pointer file are written atomically; afterwards the oldest checkpoints
    /// beyond <see cref="MaxToKeep"/> are deleted, and so are stale temporary files.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="number"/> is not greater than the highest number present.</exception>
    public string Save(CheckpointContents contents, long? number = null)
    {
        ArgumentNullException.ThrowIfNull(contents);
        System.IO.Directory.CreateDirectory(Directory);
        DeleteStaleTemporaryFiles();

        var numbers = new SortedSet<long>(ScanNumbers());
        long highest = numbers.Count > 0 ? numbers.Max : 0;
        if (number is { } requested && (requested <= highest || requested < 0))
        {
            throw new ArgumentOutOfRangeException(nameof(number),
                $"Checkpoint numbers increase; expected a number greater than {highest} (the highest in {Directory}); received {requested}.");
        }
        long newNumber = number ?? highest + 1;
        string path = PathFor(newNumber);
        CheckpointFile.Save(path, contents, WrapWrites);

        numbers.Add(newNumber);
        List<long> kept = numbers.Skip(Math.Max(0, numbers.Count - MaxToKeep)).ToList();
        WritePointer(kept.Select(PathFor).ToList());
        foreach (long old in numbers.Take(numbers.Count - kept.Count))
        {
            AtomicFile.TryDelete(PathFor(old));
        }
        return path;
    }

    /// <summary>
    /// Loads the newest checkpoint, or returns null when there is none. With a valid pointer file its latest
    /// checkpoint is loaded (a damaged one throws rather than silently going back in time); without one, the
    /// directory's checkpoint files are tried newest first and damaged ones are skipped.
    /// </summary>
    /// <exception cref="CheckpointCorruptException">The checkpoint the pointer file names is damaged.</exception>
    /// <exception cref="CheckpointVersionException">The checkpoint the pointer file names has a newer format.</exception>
    public CheckpointContents? RestoreLatest()
    {
        PointerState? pointer = ReadPointer();
        if (pointer is not null)
        {
            return CheckpointFile.Load(pointer.Latest);
        }
        List<long> numbers = ScanNumbers();
        for (int index = numbers.Count - 1; index >= 0; index--)
        {
            long number = numbers[index];
            try
            {
                return CheckpointFile.Load(PathFor(number));
            }
            catch (Exception exception) when (exception is CheckpointException or FileNotFoundException)
            {
                // Scanning is the fallback for a lost pointer file: skip what cannot be read, take the newest that can.
            }
        }
        return null;
    }

    /// <summary>The numbers of the checkpoint files present, ascending.</summary>
    private List<long> ScanNumbers()
    {
        var numbers = new List<long>();
        if (!System.IO.Directory.Exists(Directory))
        {
            return numbers;
        }
        foreach (string file in System.IO.Directory.EnumerateFiles(Directory))
        {
            if (TryParseNumber(Path.GetFileName(file), out long number))
            {
                numbers.Add(number);
            }
        }
        numbers.Sort();
        return numbers;
    }

    /// <summary>Parses a checkpoint file name in its canonical form (<c>ckpt-0007.ckpt</c>, not <c>ckpt-7.ckpt</c>).</summary>
    private bool TryParseNumber(string fileName, out long number)
    {
        Match match = _fileNamePattern.Match(fileName);
        number = 0;
        return match.Success
            && long.TryParse(match.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out number)
            && fileName == Path.GetFileName(PathFor(number));
    }

    private void DeleteStaleTemporaryFiles()
    {
        foreach (string file in System.IO.Directory.EnumerateFiles(Directory, ".*.tmp"))
        {
            string fileName = Path.GetFileName(file);
            if (AtomicFile.IsTemporaryFor(fileName, Prefix + "-") || AtomicFile.IsTemporaryFor(fileName, PointerFileName + "."))
            {
                AtomicFile.TryDelete(file);
            }
        }
    }

    /// <summary>Writes the pointer file atomically in the text format of TensorFlow's <c>checkpoint</c> file.</summary>
    private void WritePointer(IReadOnlyList<string> kept)
    {
        var text = new StringBuilder();
        text.Append("# Written by Engine.Checkpoint.CheckpointManager: the latest checkpoint, then every kept one (oldest first).\n");
        text.Append(CultureInfo.InvariantCulture, $"{LatestKey}: \"{Path.GetFileName(kept[^1])}\"\n");
        foreach (string path in kept)
        {
            text.Append(CultureInfo.InvariantCulture, $"{KeptKey}: \"{Path.GetFileName(path)}\"\n");
        }
        byte[] bytes = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text.ToString());
        AtomicFile.Write(PointerPath, stream => stream.Write(bytes), WrapWrites);
    }

    /// <summary>
    /// The pointer file's state, or null when it is missing or damaged: unreadable, an unknown line, no or two
    /// latest entries, a name that is not a checkpoint file name, numbers not increasing, the latest not last,
    /// or a listed file that does not exist.
    /// </summary>
    private PointerState? ReadPointer()
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(PointerPath, Encoding.UTF8);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        string? latest = null;
        var kept = new List<string>();
        long previous = -1;
        foreach (string rawLine in lines)
        {
            string line = rawLine.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                return null;
            }
            string key = line[..colon].Trim();
            string value = line[(colon + 1)..].Trim();
            if (value.Length < 2 || value[0] != '"' || value[^1] != '"' || !TryParseNumber(value[1..^1], out long number))
            {
                return null;
            }
            string path = PathFor(number);
            if (key == LatestKey && latest is null)
            {
                latest = path;
            }
            else if (key == KeptKey && number > previous)
            {
                kept.Add(path);
                previous = number;
            }
            else
            {
                return null;
            }
        }
        if (latest is null || kept.Count == 0 || kept[^1] != latest || !kept.All(File.Exists))
        {
            return null;
        }
        return new PointerState(latest, kept);
    }

    private sealed record PointerState(string Latest, IReadOnlyList<string> Kept);
}
