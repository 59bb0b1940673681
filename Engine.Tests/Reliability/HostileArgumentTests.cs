using Engine.Tests.Mnist;

namespace Engine.Tests.Reliability;

/// <summary>
/// Every command and option with missing, malformed, negative, zero, huge and wrong-type values, nonexistent paths and
/// files where folders are expected: exactly one line on stderr, no stack trace, exit code 2 for a usage error and 1 for
/// a runtime failure. Paths are placeholders filled in per run: {missing} does not exist, {file} is a text file,
/// {garbage} a file of random bytes, {fresh} a new folder, {data} the MNIST folder, {trained} a trained checkpoint folder.
/// </summary>
[NonParallelizable]
public class HostileArgumentTests
{
    private const int Help = 0, Failure = 1, Usage = 2;

    private static readonly string[] Commands = ["train", "evaluate", "predict", "summary", "basics"];

    /// <summary>
    /// A small trained checkpoint of this fixture's own: <see cref="TrainedCheckpoint"/>'s folder is deleted once the
    /// Engine.Tests.Mnist namespace has run, which may be before this fixture.
    /// </summary>
    private string? _trained;

    private string Trained
    {
        get
        {
            if (_trained is null)
            {
                string folder = Path.Combine(Path.GetTempPath(), "mnist-console-tests", "hostile-" + Guid.NewGuid().ToString("N"));
                ConsoleResult result = ConsoleRunner.Run("train", "--data", ConsoleRunner.Data, "--checkpoint-dir", folder,
                    "--epochs", "1", "--train-limit", "300", "--test-limit", "100");
                Assert.That(result.ExitCode, Is.Zero, result.ToString());
                _trained = folder;
            }
            return _trained;
        }
    }

    [OneTimeTearDown]
    public void DeleteTrained()
    {
        if (_trained is not null && Directory.Exists(_trained))
        {
            Directory.Delete(_trained, recursive: true);
        }
    }

    public static IEnumerable<TestCaseData> Cases()
    {
        foreach (string command in Commands)
        {
            yield return Case(Usage, command, "--bogus");
            yield return Case(Usage, command, "stray-word");
            yield return Case(Help, command, "--help", "--bogus"); // help wins over other words, as in git and dotnet
        }
        yield return Case(Usage, "TRAIN");
        yield return Case(Help, "--version", "--bogus");

        // Integer options: missing, empty, malformed, negative, zero, out of range, wrong type, repeated.
        var integers = new (string Command, string Option, int Minimum)[]
        {
            ("train", "--epochs", 1), ("train", "--batch-size", 1), ("train", "--seed", int.MinValue), ("train", "--threads", 1),
            ("train", "--train-limit", 1), ("train", "--test-limit", 1), ("evaluate", "--threads", 1), ("evaluate", "--test-limit", 1),
            ("predict", "--index", 0), ("predict", "--threads", 1), ("basics", "--seed", int.MinValue),
        };
        foreach ((string command, string option, int minimum) in integers)
        {
            yield return Case(Usage, command, option);
            foreach (string value in new[] { "", " ", "abc", "1.5", "1e3", "0x10", "2147483648", "-2147483649", "99999999999999999999", "١٢", "true" })
            {
                yield return Case(Usage, command, option, value);
            }
            if (minimum > int.MinValue)
            {
                yield return Case(Usage, command, option, "-1");
                yield return Case(Usage, command, option, (minimum - 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            yield return Case(Usage, command, option, "1", option, "2");
        }

        // The learning rate: a positive finite number.
        foreach (string value in new[] { "", "abc", "0", "-0", "-1e-3", "NaN", "Infinity", "-Infinity", "1e999", "0x1", "1,5" })
        {
            yield return Case(Usage, "train", "--learning-rate", value);
        }
        yield return Case(Usage, "train", "--learning-rate");
        yield return Case(Usage, "train", "--resume", "maybe");

        // Path options without a value.
        foreach ((string command, string option) in new[]
        {
            ("train", "--data"), ("train", "--checkpoint-dir"), ("train", "--report"), ("train", "--plots"), ("evaluate", "--data"),
            ("evaluate", "--checkpoint-dir"), ("evaluate", "--checkpoint"), ("evaluate", "--plots"), ("predict", "--image"),
            ("predict", "--checkpoint"), ("basics", "--out"), ("basics", "--data"),
        })
        {
            yield return Case(Usage, command, option);
        }
        yield return Case(Usage, "predict");
        yield return Case(Usage, "predict", "--index", "0", "--image", "{file}");

        // Huge values that parse: refused before any allocation or thread is made.
        yield return Case(Usage, "train", "--threads", "2147483647", "--data", "{data}", "--checkpoint-dir", "{fresh}");
        yield return Case(Usage, "train", "--threads", "1025", "--data", "{data}", "--checkpoint-dir", "{fresh}");
        yield return Case(Usage, "train", "--batch-size", "60001", "--data", "{data}", "--checkpoint-dir", "{fresh}");
        yield return Case(Usage, "evaluate", "--threads", "2147483647", "--data", "{data}", "--checkpoint-dir", "{trained}");
        yield return Case(Usage, "predict", "--threads", "2147483647", "--index", "0", "--data", "{data}", "--checkpoint-dir", "{trained}");
        yield return Case(Usage, "train", "--batch-size", "2147483647", "--data", "{data}", "--checkpoint-dir", "{fresh}", "--train-limit", "10", "--test-limit", "10");
        yield return Case(Usage, "predict", "--index", "2147483647", "--data", "{data}", "--checkpoint-dir", "{trained}");

        // Runtime failures: missing paths, files where folders are expected, unusable files.
        yield return Case(Failure, "train", "--data", "{missing}", "--checkpoint-dir", "{fresh}");
        yield return Case(Failure, "train", "--data", "{file}", "--checkpoint-dir", "{fresh}");
        yield return Case(Failure, "train", "--data", "{data}", "--checkpoint-dir", "{file}");
        yield return Case(Failure, "train", "--data", "{data}", "--checkpoint-dir", "{fresh}", "--report", "{file}/report.json");
        yield return Case(Failure, "train", "--data", "{data}", "--checkpoint-dir", "{fresh}", "--plots", "{file}");
        yield return Case(Failure, "train", "--data", "{data}", "--checkpoint-dir", "{fresh}", "--resume");
        yield return Case(Failure, "evaluate", "--data", "{data}", "--checkpoint-dir", "{missing}");
        yield return Case(Failure, "evaluate", "--data", "{data}", "--checkpoint-dir", "{file}");
        yield return Case(Failure, "evaluate", "--data", "{data}", "--checkpoint-dir", "{trained}", "--checkpoint", "{missing}");
        yield return Case(Failure, "evaluate", "--data", "{data}", "--checkpoint-dir", "{trained}", "--checkpoint", "{garbage}");
        yield return Case(Failure, "evaluate", "--data", "{data}", "--checkpoint-dir", "{trained}", "--checkpoint", "{trained}");
        yield return Case(Failure, "evaluate", "--data", "{missing}", "--checkpoint-dir", "{trained}");
        yield return Case(Failure, "evaluate", "--data", "{data}", "--checkpoint-dir", "{trained}", "--plots", "{file}", "--test-limit", "10");
        yield return Case(Failure, "predict", "--image", "{missing}", "--checkpoint-dir", "{trained}");
        yield return Case(Failure, "predict", "--image", "{file}", "--checkpoint-dir", "{trained}");
        yield return Case(Failure, "predict", "--image", "{garbage}", "--checkpoint-dir", "{trained}");
        yield return Case(Failure, "predict", "--image", "{fresh}", "--checkpoint-dir", "{trained}");
        yield return Case(Failure, "predict", "--index", "0", "--data", "{data}", "--checkpoint-dir", "{missing}");
        yield return Case(Failure, "basics", "--data", "{data}", "--out", "{file}");
        yield return Case(Failure, "basics", "--data", "{missing}", "--out", "{fresh}");
    }

    private static TestCaseData Case(int exitCode, params string[] args) =>
        new TestCaseData(exitCode, args).SetName($"{(exitCode switch { Usage => "Usage", Failure => "Failure", _ => "Help" })}: {string.Join(' ', args.Select(arg => arg.Length == 0 ? "''" : arg))}");

    [TestCaseSource(nameof(Cases))]
    public void OneLineNoStackTraceAndTheRightExitCode(int exitCode, string[] args)
    {
        using var folder = ConsoleRunner.TemporaryDirectory();
        File.WriteAllText(folder["file.txt"], "not a folder, not a checkpoint, not an image\n");
        File.WriteAllBytes(folder["garbage.bin"], Enumerable.Range(0, 4096).Select(value => (byte)(value * 7919 >> 3)).ToArray());
        string[] filled = args.Select(arg => arg
            .Replace("{missing}", folder["nowhere"], StringComparison.Ordinal)
            .Replace("{file}", folder["file.txt"], StringComparison.Ordinal)
            .Replace("{garbage}", folder["garbage.bin"], StringComparison.Ordinal)
            .Replace("{fresh}", folder["fresh"], StringComparison.Ordinal)
            .Replace("{data}", ConsoleRunner.Data, StringComparison.Ordinal)
            .Replace("{trained}", arg.Contains("{trained}", StringComparison.Ordinal) ? Trained : "", StringComparison.Ordinal)).ToArray();

        ConsoleResult result = ConsoleRunner.Run(filled);

        string error = result.Error.TrimEnd('\r', '\n');
        if (exitCode == Help)
        {
            Assert.That((result.ExitCode, result.Error), Is.EqualTo((0, "")), result.ToString());
            return;
        }
        using (Assert.EnterMultipleScope())
        {
            Assert.That(result.ExitCode, Is.EqualTo(exitCode), result.ToString());
            Assert.That(error, Is.Not.Empty, result.ToString());
            Assert.That(error, Does.Not.Contain('\n'), "exactly one line on stderr\n" + result);
            Assert.That(result.Error + result.Output, Does.Not.Contain("   at "), "no stack trace\n" + result);
        }
    }
}
