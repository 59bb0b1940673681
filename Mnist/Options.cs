using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Mnist;

/// <summary>The options shared by several commands, created once per command with the same names, help and checks.</summary>
internal static class Options
{
    /// <summary>The default checkpoint directory, relative to the working directory.</summary>
    public const string DefaultCheckpointDirectory = "checkpoints";

    /// <summary><c>--data DIR</c>: the folder of the four MNIST IDX files (plain or .gz).</summary>
    public static Option<string?> Data() => new("--data")
    {
        Description = "Folder of the four MNIST IDX files (.gz or raw). Default: $MNIST_DATA, then the local cache, then a download.",
        HelpName = "DIR",
    };

    /// <summary><c>--checkpoint-dir DIR</c>.</summary>
    public static Option<string> CheckpointDirectory() => new("--checkpoint-dir")
    {
        Description = "Folder of the checkpoints (the last 3 are kept).",
        HelpName = "DIR",
        DefaultValueFactory = _ => DefaultCheckpointDirectory,
    };

    /// <summary><c>--checkpoint NAME</c>: a checkpoint file in the checkpoint directory (or a path) instead of the latest.</summary>
    public static Option<string?> Checkpoint() => new("--checkpoint")
    {
        Description = "A checkpoint file name in --checkpoint-dir, or a path, instead of the latest one.",
        HelpName = "NAME",
    };

    /// <summary>The most <c>--threads</c> accepted: the engine makes one helper per thread up front.</summary>
    public const int MaximumThreads = 1024;

    /// <summary><c>--threads N</c>.</summary>
    public static Option<int?> Threads() => new("--threads")
    {
        Description = "Worker threads (default: every core). Results are bit-identical for any count.",
        HelpName = "N",
        CustomParser = result => ParseInteger(result, 1, MaximumThreads),
    };

    /// <summary><c>--test-limit N</c> (hidden): evaluate on the first N test images only, to keep tests fast.</summary>
    public static Option<int?> TestLimit() => new("--test-limit")
    {
        Description = "Use the first N test images only.",
        HelpName = "N",
        Hidden = true,
        CustomParser = result => ParseInteger(result, 1),
    };

    /// <summary>An integer option that must be at least <paramref name="minimum"/>.</summary>
    public static Option<int> Integer(string name, string description, int defaultValue, int minimum, string helpName = "N", int maximum = int.MaxValue) => new(name)
    {
        Description = description,
        HelpName = helpName,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = result => ParseInteger(result, minimum, maximum) ?? defaultValue,
    };

    /// <summary>An optional integer option that must be at least <paramref name="minimum"/> when given.</summary>
    public static Option<int?> OptionalInteger(string name, string description, int minimum, string helpName = "N") => new(name)
    {
        Description = description,
        HelpName = helpName,
        CustomParser = result => ParseInteger(result, minimum),
    };

    /// <summary>A number option that must be finite and greater than zero.</summary>
    public static Option<double> Positive(string name, string description, double defaultValue, string helpName = "X") => new(name)
    {
        Description = description,
        HelpName = helpName,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
            {
                result.AddError($"{OptionName(result)} expects a number; received '{text}'.");
                return defaultValue;
            }
            if (!(value > 0))
            {
                result.AddError($"{OptionName(result)} must be greater than 0; received {text}.");
            }
            return value;
        },
    };

    /// <summary>Parses the option's one token as an integer of at least <paramref name="minimum"/>; adds a parse error naming the value otherwise.</summary>
    private static int? ParseInteger(ArgumentResult result, int minimum, int maximum = int.MaxValue)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value))
        {
            result.AddError($"{OptionName(result)} expects a whole number; received '{text}'.");
            return null;
        }
        if (value < minimum)
        {
            result.AddError($"{OptionName(result)} must be at least {minimum}; received {text}.");
        }
        else if (value > maximum)
        {
            result.AddError($"{OptionName(result)} must be at most {maximum}; received {text}.");
        }
        return value;
    }

    private static string OptionName(ArgumentResult result) => result.Parent is OptionResult option ? option.Option.Name : result.Argument.Name;
}
