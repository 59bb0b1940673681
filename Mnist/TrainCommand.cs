using System.CommandLine;
using System.Globalization;
using System.Runtime.CompilerServices;
using Engine;
using Engine.Checkpoint;
using Engine.Data;
using Engine.Optimizers;

namespace Mnist;

/// <summary>What <c>train</c> was asked to do.</summary>
internal sealed record TrainSettings
{
    public string? DataDirectory { get; init; }
    public int Epochs { get; init; } = TrainCommand.DefaultEpochs;
    public int BatchSize { get; init; } = TrainCommand.DefaultBatchSize;
    public double LearningRate { get; init; } = TrainCommand.DefaultLearningRate;
    public int Seed { get; init; } = TrainCommand.DefaultSeed;
    public int? Threads { get; init; }
    public int? TrainLimit { get; init; }
    public int? TestLimit { get; init; }
    public string CheckpointDirectory { get; init; } = Options.DefaultCheckpointDirectory;
    public bool Resume { get; init; }
    public string? ReportPath { get; init; }
    public string? PlotsDirectory { get; init; }

    /// <summary>The options given explicitly on the command line (a resumed run refuses ones that contradict the checkpoint).</summary>
    public IReadOnlySet<string> Explicit { get; init; } = new HashSet<string>();
}

/// <summary>
/// <c>train</c>: the reference model with the lab's hyper-parameters (Adam 0.001, batch 100, 15 epochs,
/// shuffle buffer 100,000), a checkpoint after every epoch (the last 3 kept), resume, Ctrl+C, a JSON
/// report and PNG curves. The loop itself is <see cref="Sequential.Fit"/>.
/// </summary>
internal static class TrainCommand
{
    public const int DefaultEpochs = 15, DefaultBatchSize = 100, DefaultSeed = 42, ShuffleBuffer = 100_000;
    public const double DefaultLearningRate = 0.001, DropoutRate = 0.4;

    /// <summary>The largest --batch-size: MNIST's training set (a larger batch only holds more padding).</summary>
    public const int MaximumBatchSize = 60_000;

    private const string LearningRateKey = "learning_rate", BatchSizeKey = "batch_size", SeedKey = "seed",
        TrainLimitKey = "train_limit", ShuffleBufferKey = "shuffle_buffer", HistoryKey = "epochs_history", PartialKey = "partial_epoch";

    public static Command Create(ConsoleSession session)
    {
        var data = Options.Data();
        var epochs = Options.Integer("--epochs", "Total number of epochs (a resumed run continues up to it).", DefaultEpochs, 1);
        var batchSize = Options.Integer("--batch-size", "Mini-batch size.", DefaultBatchSize, 1, maximum: MaximumBatchSize);
        var learningRate = Options.Positive("--learning-rate", "Adam's learning rate.", DefaultLearningRate);
        var seed = Options.Integer("--seed", "Seed of the initial weights, the shuffle order and dropout.", DefaultSeed, int.MinValue);
        var threads = Options.Threads();
        var trainLimit = Options.OptionalInteger("--train-limit", "Train on the first N training images only.", 1);
        var testLimit = Options.TestLimit();
        var checkpointDirectory = Options.CheckpointDirectory();
        var resume = new Option<bool>("--resume") { Description = "Continue from the latest checkpoint in --checkpoint-dir." };
        var report = new Option<string?>("--report") { Description = "The JSON run report (default: <checkpoint-dir>/report.json).", HelpName = "FILE" };
        var plots = new Option<string?>("--plots") { Description = "Folder for loss.png and accuracy.png (default: the checkpoint folder).", HelpName = "DIR" };
        var command = new Command("train", "Train the lab's CNN on MNIST, evaluating and checkpointing after every epoch.")
        {
            data, epochs, batchSize, learningRate, seed, threads, trainLimit, testLimit, checkpointDirectory, resume, report, plots,
        };
        command.SetAction(parse =>
        {
            var given = new HashSet<string>(StringComparer.Ordinal);
            foreach (Option option in command.Options)
            {
                if (parse.GetResult(option) is { Implicit: false })
                {
                    given.Add(option.Name);
                }
            }
            var settings = new TrainSettings
            {
                DataDirectory = parse.GetValue(data),
                Epochs = parse.GetValue(epochs),
                BatchSize = parse.GetValue(batchSize),
                LearningRate = parse.GetValue(learningRate),
                Seed = parse.GetValue(seed),
                Threads = parse.GetValue(threads),
                TrainLimit = parse.GetValue(trainLimit),
                TestLimit = parse.GetValue(testLimit),
                CheckpointDirectory = parse.GetValue(checkpointDirectory)!,
                Resume = parse.GetValue(resume),
                ReportPath = parse.GetValue(report),
                PlotsDirectory = parse.GetValue(plots),
                Explicit = given,
            };
            return Cli.Guard(session, () => Run(session, settings));
        });
        return command;
    }

    /// <summary>Trains as <paramref name="settings"/> asks; returns the exit code.</summary>
    public static int Run(ConsoleSession session, TrainSettings settings)
    {
        TextWriter output = session.Out;
        string checkpointDirectory = Path.GetFullPath(settings.CheckpointDirectory);
        string reportPath = Path.GetFullPath(settings.ReportPath ?? Path.Combine(checkpointDirectory, "report.json"));
        string plotsDirectory = Path.GetFullPath(settings.PlotsDirectory ?? checkpointDirectory);
        CheckpointManager manager = session.CheckpointManager?.Invoke(checkpointDirectory) ?? Checkpoints.Manager(checkpointDirectory);

        string? latest = manager.LatestPath;
        if (!settings.Resume && latest is not null)
        {
            throw ConsoleException.Usage(
                $"'{checkpointDirectory}' already holds checkpoints ({Path.GetFileName(latest)}); pass --resume to continue them, or choose another --checkpoint-dir.");
        }
        if (settings.Resume && latest is null)
        {
            throw ConsoleException.Failure($"--resume: no checkpoint in '{checkpointDirectory}' to resume from; run without --resume to start afresh.");
        }
        AtomicFile.EnsureWritableDirectory(checkpointDirectory, "checkpoint folder");
        using CheckpointLock writerLock = CheckpointLock.Acquire(checkpointDirectory); // one train per folder, held to the end
        AtomicFile.EnsureWritableDirectory(Path.GetDirectoryName(reportPath)!, "report folder");
        AtomicFile.EnsureWritableDirectory(plotsDirectory, "plots folder");

        RunReport? report = Train(session, settings, manager, latest, checkpointDirectory);
        if (report is null)
        {
            return ExitCodes.Interrupted;
        }

        // The model's buffers and both datasets (about 200 MB) became garbage when Train returned. A compacting,
        // aggressive collection returns their memory to the system before the plots load their graphics library
        // (about 30 MB), so this last phase stays below the peak of training.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

        EpochReport last = report.Epochs[^1];
        string[] plots;
        try
        {
            plots = Plots.SaveTrainingCurves(plotsDirectory, report.Epochs);
            AtomicFile.WriteAllText(reportPath, report.ToJson());
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw ConsoleException.Failure(
                $"training finished (checkpoint {report.Checkpoint}) but the report or plots could not be written: {Cli.OneLine(error.Message)}", error);
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Test accuracy {last.TestAccuracy:F4} (loss {last.TestLoss:F4}) after {last.Epoch} epoch{(last.Epoch == 1 ? "" : "s")}."));
        output.WriteLine($"parameters_sha256 {report.ParametersSha256}");
        output.WriteLine($"Report: {reportPath}");
        output.WriteLine($"Plots: {string.Join(", ", plots)}");
        return ExitCodes.Success;
    }

    /// <summary>
    /// Loads the data, builds (or resumes) the model and trains it, saving a checkpoint after every epoch; returns the
    /// run's report, or null when interrupted (after saving and printing how to resume). Nothing it allocates for
    /// training outlives it (not inlined, so that its frame, which holds the model and datasets, is gone on return).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static RunReport? Train(ConsoleSession session, TrainSettings settings, CheckpointManager manager, string? latest,
        string checkpointDirectory)
    {
        TextWriter output = session.Out;

        // On --resume the checkpoint's hyper-parameters win; contradicting them explicitly is an error.
        CheckpointContents? resumed = settings.Resume ? Checkpoints.Load(latest!, () => CheckpointFile.Load(latest!)) : null;
        if (resumed is not null)
        {
            settings = WithCheckpointHyperparameters(settings, resumed.Metadata, latest!);
        }

        MnistDataset train = MnistData.LoadTrain(settings.DataDirectory, settings.TrainLimit);
        MnistDataset test = MnistData.LoadTest(settings.DataDirectory, settings.TestLimit);

        Sequential model = ReferenceModels.MnistCnn(DropoutRate);
        model.Build(ReferenceModels.MnistInput, new ModelOptions(settings.BatchSize, settings.Seed, settings.Threads));
        model.Compile(new Adam(settings.LearningRate));
        var position = new TrainingPosition(0, 0, unchecked((ulong)settings.Seed));
        var history = new List<EpochReport>();
        PartialEpoch? partial = null; // the trained part of an epoch interrupted mid-way, so its report covers the whole epoch
        if (resumed is not null)
        {
            CheckpointContents contents = resumed;
            position = Checkpoints.Load(latest!, () => ModelCheckpoint.Restore(model, contents));
            if (contents.Metadata.TryGetValue(HistoryKey, out string? json))
            {
                history = RunReport.EpochsFromJson(json).Where(e => e.Epoch <= position.Epoch).ToList();
            }
            if (position.Batch > 0 && contents.Metadata.TryGetValue(PartialKey, out string? partialJson))
            {
                partial = PartialEpoch.FromJson(partialJson);
            }
            if (position.Epoch >= settings.Epochs)
            {
                throw ConsoleException.Usage(
                    $"the checkpoint '{Path.GetFileName(latest)}' has already trained {position.Epoch} epoch{(position.Epoch == 1 ? "" : "s")}; pass --epochs greater than {position.Epoch} to continue.");
            }
        }

        // Both splits stay uint8 in memory; each batch is converted to float32 into one reused tensor.
        IBatchSource batches = train.Batches(settings.BatchSize, new ShuffleOptions(ShuffleBuffer, position.ShuffleSeed));
        IBatchSource testBatches = test.Batches(settings.BatchSize, shuffle: null);
        if (position.Batch > batches.BatchesPerEpoch)
        {
            throw ConsoleException.Failure(
                $"the checkpoint '{Path.GetFileName(latest)}' stopped at batch {position.Batch} of an epoch that has {batches.BatchesPerEpoch}; the training data differs.");
        }

        output.WriteLine(model.Summary());
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Training on {train.Count:N0} images ({batches.BatchesPerEpoch} batches of {settings.BatchSize}), testing on {test.Count:N0}; Adam {settings.LearningRate}, seed {settings.Seed}, {model.Workers.Threads} thread{(model.Workers.Threads == 1 ? "" : "s")}."));
        if (resumed is not null)
        {
            output.WriteLine($"Resuming from {Path.GetFileName(latest)} at epoch {position.Epoch + 1}, batch {position.Batch} (epochs {position.Epoch + 1}..{settings.Epochs}).");
        }
        output.WriteLine($"Checkpoints: {checkpointDirectory}");
        output.Flush();

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [LearningRateKey] = settings.LearningRate.ToString("R", CultureInfo.InvariantCulture),
            [BatchSizeKey] = settings.BatchSize.ToString(CultureInfo.InvariantCulture),
            [SeedKey] = settings.Seed.ToString(CultureInfo.InvariantCulture),
            [TrainLimitKey] = settings.TrainLimit?.ToString(CultureInfo.InvariantCulture) ?? "",
            [ShuffleBufferKey] = ShuffleBuffer.ToString(CultureInfo.InvariantCulture),
        };
        string? lastSaved = resumed is null ? null : latest; // the last good checkpoint, named when training diverges
        TrainingPosition lastSavedAt = position;
        string Save(TrainingPosition at)
        {
            metadata[HistoryKey] = RunReport.EpochsToJson(history);
            try
            {
                lastSaved = manager.Save(ModelCheckpoint.Capture(model, at, metadata));
                lastSavedAt = at;
                return lastSaved;
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException)
            {
                string kept = lastSaved is null ? "no checkpoint was saved before" : $"the last one, {Path.GetFileName(lastSaved)}, is intact";
                throw ConsoleException.Failure($"cannot save a checkpoint in '{checkpointDirectory}' ({kept}): {Cli.OneLine(error.Message)}", error);
            }
        }

        TrainingDisplay display = TrainingDisplay.For(session, settings.Epochs);
        BatchProgress? lastBatch = null;
        History? result = null;
        try
        {
            display.Run(() => result = model.Fit(batches, settings.Epochs, new FitOptions
            {
                InitialEpoch = position.Epoch,
                InitialBatch = position.Batch,
                CancellationToken = session.Cancellation,
                OnBatch = progress =>
                {
                    if (Divergence.FirstNonFiniteParameter(model) is { } broken)
                    {
                        // The step's loss and gradients were finite (Fit checks them) but its update overflowed.
                        throw new TrainingDivergedException(
                            $"Epoch {progress.Epoch + 1}, batch {progress.Batch}: the update of optimizer step {model.Optimizer.Iterations} made {broken} not finite (the loss and gradients were finite; the update overflowed float32).");
                    }
                    lastBatch = progress;
                    display.OnBatch(progress);
                    session.OnBatch?.Invoke(progress);
                },
                OnEpochEnd = metrics =>
                {
                    Evaluation validation = model.Evaluate(testBatches);
                    double testLoss = validation.Loss;
                    if (!double.IsFinite(testLoss))
                    {
                        // The weights overflow on the test set: stop before they are saved, as a non-finite training loss does.
                        throw new TrainingDivergedException(string.Create(CultureInfo.InvariantCulture,
                            $"Epoch {metrics.Epoch + 1}, after optimizer step {model.Optimizer.Iterations}: the test loss is {testLoss}; {Divergence.FirstNonFiniteLayer(model, test.Images())} The epoch's weights were not saved."));
                    }
                    var epoch = new EpochReport(metrics.Epoch + 1, metrics.TrainLoss, metrics.TrainAccuracy,
                        testLoss, validation.Accuracy, metrics.Seconds, metrics.ImagesPerSecond,
                        Environment.WorkingSet, GC.GetTotalAllocatedBytes(), GC.CollectionCount(2));
                    if (partial is not null && partial.Epoch == metrics.Epoch)
                    {
                        epoch = partial.Complete(epoch, batches.ExampleCount);
                        partial = null;
                    }
                    history.Add(epoch);
                    string path = Save(position with { Epoch = metrics.Epoch + 1, Batch = 0 });
                    display.OnEpochEnd(epoch, $"saved {Path.GetFileName(path)}");
                },
            }));
        }
        catch (TrainingDivergedException error)
        {
            string kept = lastSaved is null
                ? "No checkpoint was saved."
                : $"The last good checkpoint, {lastSaved} ({Describe(lastSavedAt)}), is kept.";
            throw ConsoleException.Failure($"training diverged: {Cli.OneLine(error.Message)} {kept}", error);
        }

        if (result!.Cancelled)
        {
            (int epoch, int batch) = result.StoppedAt!.Value;
            if (batch > 0 && lastBatch is { } progress)
            {
                // Every batch before a mid-epoch stop is full; this run trained those after the resumed position.
                int skipped = epoch == position.Epoch ? position.Batch : 0;
                var trained = new PartialEpoch(epoch, (batch - skipped) * settings.BatchSize, 0, 0, progress.Elapsed.TotalSeconds);
                trained = trained with { LossSum = progress.Loss * trained.Examples, Correct = progress.Accuracy * trained.Examples };
                metadata[PartialKey] = (partial is not null && partial.Epoch == epoch ? partial.Add(trained) : trained).ToJson();
            }
            string path = batch == 0 ? manager.LatestPath! : Save(position with { Epoch = epoch, Batch = batch });
            output.WriteLine(batch == 0
                ? $"Interrupted after epoch {epoch}; checkpoint {path}."
                : $"Interrupted in epoch {epoch + 1} after batch {batch} of {batches.BatchesPerEpoch}; checkpoint saved to {path}.");
            output.WriteLine($"Resume with: mnist train --resume --checkpoint-dir {Quote(settings.CheckpointDirectory)}"
                + (settings.Epochs != DefaultEpochs ? $" --epochs {settings.Epochs}" : "")
                + (settings.DataDirectory is null ? "" : $" --data {Quote(settings.DataDirectory)}"));
            return null;
        }

        EpochReport last = history[^1];
        return new RunReport(
            new Hyperparameters("adam", settings.LearningRate, settings.BatchSize, settings.Epochs, ShuffleBuffer, settings.Seed, DropoutRate,
                train.Count, test.Count),
            history, last.TestLoss, last.TestAccuracy, RunReport.DigestParameters(model), model.ParameterCount, model.Workers.Threads,
            MachineReport.Current(), ProcessReport.Current(), manager.LatestPath!, DateTimeOffset.UtcNow);
    }

    /// <summary>
    /// The settings with the hyper-parameters stored in a checkpoint (they fix the trajectory); an
    /// explicit option that contradicts them is a usage error.
    /// </summary>
    private static TrainSettings WithCheckpointHyperparameters(TrainSettings settings, IReadOnlyDictionary<string, string> metadata, string path)
    {
        string file = Path.GetFileName(path);
        int Integer(string key, string option, int current)
        {
            if (!metadata.TryGetValue(key, out string? text) || !int.TryParse(text, CultureInfo.InvariantCulture, out int stored))
            {
                return current;
            }
            if (settings.Explicit.Contains(option) && stored != current)
            {
                throw ConsoleException.Usage($"{option} {current} contradicts the checkpoint {file} ({stored}); a resumed run keeps the checkpoint's value.");
            }
            return stored;
        }
        int? trainLimit = settings.TrainLimit;
        if (metadata.TryGetValue(TrainLimitKey, out string? limitText))
        {
            int? stored = int.TryParse(limitText, CultureInfo.InvariantCulture, out int value) ? value : null;
            if (settings.Explicit.Contains("--train-limit") && stored != trainLimit)
            {
                throw ConsoleException.Usage(
                    $"--train-limit {trainLimit} contradicts the checkpoint {file} ({(stored is null ? "all images" : stored)}); a resumed run keeps the checkpoint's value.");
            }
            trainLimit = stored;
        }
        double learningRate = settings.LearningRate;
        if (metadata.TryGetValue(LearningRateKey, out string? rateText) && double.TryParse(rateText, CultureInfo.InvariantCulture, out double storedRate))
        {
            if (settings.Explicit.Contains("--learning-rate") && storedRate != learningRate)
            {
                throw ConsoleException.Usage(
                    $"--learning-rate {learningRate.ToString(CultureInfo.InvariantCulture)} contradicts the checkpoint {file} ({rateText}); a resumed run keeps the checkpoint's value.");
            }
            learningRate = storedRate;
        }
        return settings with
        {
            BatchSize = Integer(BatchSizeKey, "--batch-size", settings.BatchSize),
            Seed = Integer(SeedKey, "--seed", settings.Seed),
            TrainLimit = trainLimit,
            LearningRate = learningRate,
        };
    }

    private static string Describe(TrainingPosition at) =>
        at.Batch == 0 ? $"after epoch {at.Epoch}" : $"epoch {at.Epoch + 1}, batch {at.Batch}";

    private static string Quote(string text) => text.Contains(' ', StringComparison.Ordinal) ? $"\"{text}\"" : text;
}

/// <summary>The trained part of an epoch that was interrupted: example count, summed loss, correct count, time.</summary>
internal sealed record PartialEpoch(int Epoch, int Examples, double LossSum, double Correct, double Seconds)
{
    public string ToJson() => System.Text.Json.JsonSerializer.Serialize(this);

    public static PartialEpoch? FromJson(string json) => System.Text.Json.JsonSerializer.Deserialize<PartialEpoch>(json);

    /// <summary>This part followed by <paramref name="next"/> of the same epoch.</summary>
    public PartialEpoch Add(PartialEpoch next) =>
        this with { Examples = Examples + next.Examples, LossSum = LossSum + next.LossSum, Correct = Correct + next.Correct, Seconds = Seconds + next.Seconds };

    /// <summary>The whole epoch's report from this part and <paramref name="rest"/>, the metrics of the remaining examples.</summary>
    public EpochReport Complete(EpochReport rest, int epochExamples)
    {
        int restExamples = epochExamples - Examples;
        double seconds = Seconds + rest.Seconds;
        return rest with
        {
            TrainLoss = (LossSum + rest.TrainLoss * restExamples) / epochExamples,
            TrainAccuracy = (Correct + rest.TrainAccuracy * restExamples) / epochExamples,
            Seconds = seconds,
            ImagesPerSecond = epochExamples / Math.Max(seconds, 1e-9),
        };
    }
}
