using System.Globalization;
using System.Text;
using Engine.Layers;
using Engine.Losses;
using Engine.Optimizers;

namespace Engine;

/// <summary>
/// A linear stack of layers trained with softmax cross-entropy on logits, as Keras's
/// <c>Sequential</c>: construct, <see cref="Build"/>, <see cref="Compile"/>, then
/// <see cref="TrainStep"/>, <see cref="Evaluate"/> and <see cref="Predict"/>.
/// </summary>
public sealed class Sequential
{
    private readonly ILayer[] _layers;
    private Parameter[] _parameters = [];
    private (int Parameter, int Offset, int Length)[] _gradientSlices = [];
    private bool[] _sliceFinite = [];
    private readonly Action<int> _clearSlice;
    private readonly Action<int> _checkSlice;
    private SoftmaxCrossEntropy? _loss;
    private IOptimizer? _optimizer;
    private Shape? _inputShape;
    private bool[] _runsWithNext = []; // layer i is a Conv2D that runs the MaxPool2D i + 1 inside its parallel regions

    /// <summary>Creates a model from its layers, first to last.</summary>
    public Sequential(params IEnumerable<ILayer> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        _clearSlice = slice => GradientSlice(slice).Clear();
        // A sum is finite exactly when every term is (short of an overflow of the sum itself).
        _checkSlice = slice => _sliceFinite[slice] = float.IsFinite(System.Numerics.Tensors.TensorPrimitives.Sum((ReadOnlySpan<float>)GradientSlice(slice)));
        _layers = layers.ToArray();
        if (_layers.Length == 0)
        {
            throw new ArgumentException("A Sequential model needs at least one layer; received none.", nameof(layers));
        }
        for (int index = 0; index < _layers.Length; index++)
        {
            if (_layers[index] is null)
            {
                throw new ArgumentException($"Layer {index} is null; expected a layer.", nameof(layers));
            }
        }
    }

    /// <summary>How many Conv2D layers run the MaxPool2D after them inside their own parallel regions.</summary>
    internal int ConvPoolPairs => _runsWithNext.Count(pair => pair);

    /// <summary>Whether layer <paramref name="index"/> (a Conv2D) runs the MaxPool2D after it inside its own parallel regions.</summary>
    internal bool RunsWithNext(int index) => _runsWithNext[index];

    /// <summary>The layers, first to last.</summary>
    public IReadOnlyList<ILayer> Layers => _layers;

    /// <summary>Every trainable parameter in layer order (Keras's <c>trainable_weights</c> order), named <c>layer/kernel</c>, <c>layer/bias</c>.</summary>
    public IReadOnlyList<Parameter> Parameters => _parameters;

    /// <summary>The options of the last Build.</summary>
    public ModelOptions Options { get; private set; } = new();

    /// <summary>The per-example input shape, e.g. [28, 28, 1] (after Build).</summary>
    public Shape InputShape => _inputShape ?? throw NotBuilt("InputShape");

    /// <summary>The output shape per example, e.g. [10] (after Build).</summary>
    public Shape OutputShape => _layers[^1].OutputShape.WithoutBatch();

    /// <summary>Whether <see cref="Build"/> has succeeded.</summary>
    public bool IsBuilt => _inputShape.HasValue;

    /// <summary>The thread setting shared by every layer.</summary>
    public Workers Workers { get; private set; } = new(1);

    /// <summary>The source of dropout masks; its state belongs in checkpoints.</summary>
    public RandomSource TrainingRandom { get; private set; } = new(0);

    /// <summary>The optimizer given to <see cref="Compile"/>.</summary>
    public IOptimizer Optimizer => _optimizer ?? throw new InvalidOperationException("The model has no optimizer; expected Compile(optimizer) before training.");

    /// <summary>The number of correct predictions in the last <see cref="TrainStep"/> batch.</summary>
    public int LastStepCorrect { get; private set; }

    /// <summary>The total number of trainable values.</summary>
    public long ParameterCount => _parameters.Sum(p => (long)p.Value.Length);

    /// <summary>
    /// Builds every layer for per-example input <paramref name="inputShape"/> (e.g. [28, 28, 1]),
    /// names layers and parameters as Keras does, and draws the initial weights from the seed.
    /// </summary>
    /// <exception cref="ArgumentException">A layer refuses its input; the message names the layer index, its type and both shapes.</exception>
    public void Build(Shape inputShape, ModelOptions? options = null)
    {
        options ??= new ModelOptions();
        if (options.BatchSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"The batch size must be at least 1; received {options.BatchSize}.");
        }
        Workers = new Workers(options.Threads);
        var root = new RandomSource(unchecked((ulong)options.Seed));
        var context = new LayerContext(root.Fork(), root.Fork(), Workers);
        TrainingRandom = context.TrainingRandom;

        var counts = new Dictionary<string, int>();
        var parameters = new List<Parameter>();
        Shape shape = inputShape.PrependBatch(options.BatchSize);
        if (_layers[0] is Layer first)
        {
            first.ComputeInputGradient = false;
        }
        for (int index = 0; index < _layers.Length; index++)
        {
            ILayer layer = _layers[index];
            int seen = counts.GetValueOrDefault(layer.KindName);
            counts[layer.KindName] = seen + 1;
            layer.Name = seen == 0 ? layer.KindName : $"{layer.KindName}_{seen}";
            Shape outputShape;
            try
            {
                outputShape = layer.Build(shape, context);
            }
            catch (ArgumentException error)
            {
                throw new ArgumentException(
                    $"Layer {index} ({layer.GetType().Name} '{layer.Name}') cannot take input of shape {shape}: {error.Message}", error);
            }
            foreach (Parameter parameter in layer.Parameters)
            {
                parameter.Name = $"{layer.Name}/{parameter.Name}";
                parameters.Add(parameter);
            }
            shape = outputShape;
        }
        if (shape.Rank != 2)
        {
            throw new ArgumentException(
                $"The last layer ({_layers[^1].GetType().Name} '{_layers[^1].Name}') outputs {shape}; expected logits of rank 2 [N, classes].");
        }
        _parameters = parameters.ToArray();
        _gradientSlices = GradientSlices(_parameters);
        _sliceFinite = new bool[_gradientSlices.Length];
        _runsWithNext = new bool[_layers.Length];
        for (int index = 0; index + 1 < _layers.Length; index++)
        {
            _runsWithNext[index] = _layers[index] is Conv2D conv && _layers[index + 1] is MaxPool2D pool
                && conv.CanRunWithPool(pool, context.Workers);
        }
        _loss = new SoftmaxCrossEntropy(options.BatchSize, shape[1]);
        _inputShape = inputShape;
        Options = options;
        _optimizer?.Initialize(_parameters, Workers);
    }

    /// <summary>Sets the optimizer and allocates its state. Loss: softmax cross-entropy on logits.</summary>
    public void Compile(IOptimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        _optimizer = optimizer;
        if (IsBuilt)
        {
            optimizer.Initialize(_parameters, Workers);
        }
    }

    /// <summary>Clears every parameter's gradient.</summary>
    public void ZeroGrad() => Workers.For(_gradientSlices.Length, _clearSlice);

    /// <summary>Floats per slice of the gradients that <see cref="ZeroGrad"/> and <see cref="GradientsAreFinite"/> run in parallel.</summary>
    private const int GradientSliceLength = 32 << 10;

    /// <summary>Every parameter's gradient cut into slices of at most <see cref="GradientSliceLength"/> floats: (parameter, offset, length).</summary>
    private static (int Parameter, int Offset, int Length)[] GradientSlices(Parameter[] parameters)
    {
        var slices = new List<(int, int, int)>();
        for (int index = 0; index < parameters.Length; index++)
        {
            int length = parameters[index].Gradient.Length;
            for (int offset = 0; offset < length; offset += GradientSliceLength)
            {
                slices.Add((index, offset, Math.Min(GradientSliceLength, length - offset)));
            }
        }
        return slices.ToArray();
    }

    private Span<float> GradientSlice(int slice)
    {
        var (parameter, offset, length) = _gradientSlices[slice];
        return _parameters[parameter].Gradient.Span.Slice(offset, length);
    }

    /// <summary>The logits [N, classes] for <paramref name="images"/> (N ≤ the built batch), without dropout. The tensor is reused by the next call.</summary>
    public Tensor Forward(Tensor images, bool training)
    {
        CheckImages(images);
        Tensor activation = images;
        for (int index = 0; index < _layers.Length; index++)
        {
            if (_runsWithNext[index])
            {
                // A conv and the pool after it, chunk by chunk in one parallel region (same values).
                activation = ((Conv2D)_layers[index]).ForwardThroughPool(activation, training, (MaxPool2D)_layers[index + 1]);
                index++;
                continue;
            }
            activation = _layers[index].Forward(activation, training);
        }
        return activation;
    }

    /// <summary>
    /// One optimization step on a batch: forward (training), loss, backward, optimizer update.
    /// Returns the batch's mean loss.
    /// </summary>
    public float TrainStep(Tensor images, Tensor oneHotLabels)
    {
        IOptimizer optimizer = Optimizer;
        float loss = ComputeGradients(images, oneHotLabels);
        if (!float.IsFinite(loss) || !GradientsAreFinite())
        {
            // The update is not applied: the weights stay those of the last good step.
            throw new TrainingDivergedException(
                $"Training diverged at optimizer step {optimizer.Iterations + 1}: the loss is {loss}; {DiagnoseNonFinite(images)}");
        }
        optimizer.Step(_parameters);
        return loss;
    }

    /// <summary>Forward (training) and backward on a batch: the gradients are left in the parameters (cleared first). Returns the mean loss.</summary>
    public float ComputeGradients(Tensor images, Tensor oneHotLabels)
    {
        CheckLabels(images, oneHotLabels);
        ZeroGrad();
        Tensor logits = Forward(images, training: true);
        float loss = _loss!.Forward(logits, oneHotLabels);
        LastStepCorrect = SoftmaxCrossEntropy.CountCorrect(logits.ReadOnlySpan, oneHotLabels.ReadOnlySpan, logits.Shape[0], logits.Shape[1]);
        Tensor gradient = _loss.Backward();
        for (int index = _layers.Length - 1; index >= 0; index--)
        {
            if (index > 0 && _runsWithNext[index - 1])
            {
                gradient = ((Conv2D)_layers[index - 1]).BackwardThroughPool((MaxPool2D)_layers[index], gradient);
                index--;
                continue;
            }
            gradient = _layers[index].Backward(gradient);
        }
        return loss;
    }

    /// <summary>
    /// Trains for <paramref name="epochs"/> epochs (counting from 0, so resuming at epoch k trains
    /// k..epochs-1) over the batches of <paramref name="batches"/>, like Keras's <c>fit</c>.
    /// </summary>
    /// <exception cref="TrainingDivergedException">A loss or gradient was not finite; the message names the step and the first layer.</exception>
    public History Fit(IBatchSource batches, int epochs, FitOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(batches);
        options ??= new FitOptions();
        if (epochs < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(epochs), $"Fit expects epochs >= 1; received {epochs}.");
        }
        if (options.InitialEpoch < 0 || options.InitialBatch < 0 || options.InitialBatch > batches.BatchesPerEpoch)
        {
            throw new ArgumentOutOfRangeException(nameof(options),
                $"Fit expects 0 <= InitialEpoch and 0 <= InitialBatch <= {batches.BatchesPerEpoch}; received epoch {options.InitialEpoch}, batch {options.InitialBatch}.");
        }
        _ = Optimizer;
        var history = new List<EpochMetrics>();
        for (int epoch = options.InitialEpoch; epoch < epochs; epoch++)
        {
            int skip = epoch == options.InitialEpoch ? options.InitialBatch : 0;
            int batchIndex = 0, seen = 0, correct = 0;
            double lossSum = 0;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            foreach (Batch batch in batches.GetEpoch(epoch))
            {
                if (batchIndex++ < skip)
                {
                    continue;
                }
                int count = batch.Images.Shape[0];
                float loss;
                try
                {
                    loss = TrainStep(batch.Images, batch.Labels);
                }
                catch (TrainingDivergedException diverged)
                {
                    throw new TrainingDivergedException($"Epoch {epoch + 1}, batch {batchIndex}: {diverged.Message}");
                }
                lossSum += (double)loss * count;
                correct += LastStepCorrect;
                seen += count;
                double seconds = clock.Elapsed.TotalSeconds;
                options.OnBatch?.Invoke(new BatchProgress(epoch, batchIndex, batches.BatchesPerEpoch, lossSum / seen,
                    (double)correct / seen, seen / Math.Max(seconds, 1e-9), clock.Elapsed));
                if (options.CancellationToken.IsCancellationRequested && batchIndex < batches.BatchesPerEpoch)
                {
                    return new History(history, Cancelled: true, StoppedAt: (epoch, batchIndex));
                }
            }
            clock.Stop();
            double trainSeconds = clock.Elapsed.TotalSeconds;
            Evaluation? validation = options.Validation is var (images, labels) ? Evaluate(images, labels) : null;
            var metrics = new EpochMetrics(epoch, seen == 0 ? double.NaN : lossSum / seen, seen == 0 ? double.NaN : (double)correct / seen,
                validation, trainSeconds, seen / Math.Max(trainSeconds, 1e-9));
            history.Add(metrics);
            options.OnEpochEnd?.Invoke(metrics);
            if (options.CancellationToken.IsCancellationRequested && epoch + 1 < epochs)
            {
                return new History(history, Cancelled: true, StoppedAt: (epoch + 1, 0));
            }
        }
        return new History(history, Cancelled: false, StoppedAt: null);
    }

    private bool GradientsAreFinite()
    {
        Workers.For(_gradientSlices.Length, _checkSlice);
        return Array.IndexOf(_sliceFinite, false) < 0;
    }

    /// <summary>Names where the first non-finite value appears: the input, a layer's output (forward order), or a gradient.</summary>
    private string DiagnoseNonFinite(Tensor images)
    {
        if (!AllFinite(images.ReadOnlySpan))
        {
            return "the input images hold a value that is not finite (NaN or infinity).";
        }
        Tensor activation = images;
        for (int index = 0; index < _layers.Length; index++)
        {
            activation = _layers[index].Forward(activation, training: false);
            if (!AllFinite(activation.ReadOnlySpan))
            {
                return $"the first non-finite value appears in the output of layer {index} ({_layers[index].GetType().Name} '{_layers[index].Name}').";
            }
        }
        foreach (Parameter parameter in _parameters)
        {
            if (!AllFinite(parameter.Gradient.ReadOnlySpan))
            {
                return $"the first non-finite gradient is that of {parameter.Name}.";
            }
        }
        return "the forward pass is finite; the loss overflowed.";
    }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (float value in values)
        {
            if (!float.IsFinite(value))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>The mean loss and accuracy over any number of examples, in batches of the built size, without dropout.</summary>
    public Evaluation Evaluate(Tensor images, Tensor oneHotLabels)
    {
        CheckLabels(images, oneHotLabels, anyBatch: true);
        int total = images.Shape[0], batch = Options.BatchSize, correct = 0;
        double lossSum = 0;
        for (int start = 0; start < total; start += batch)
        {
            int count = Math.Min(batch, total - start);
            Tensor labels = oneHotLabels.SliceBatch(start, count);
            Tensor logits = Forward(images.SliceBatch(start, count), training: false);
            _loss!.Forward(logits, labels);
            foreach (float loss in _loss.PerExampleLoss)
            {
                lossSum += loss;
            }
            correct += SoftmaxCrossEntropy.CountCorrect(logits.ReadOnlySpan, labels.ReadOnlySpan, count, logits.Shape[1]);
        }
        return new Evaluation(lossSum / total, (double)correct / total, total);
    }

    /// <summary>
    /// The mean loss and accuracy over the examples of <paramref name="batches"/> (its epoch 0, e.g. a dataset's
    /// batches in stored order), without dropout; a batch larger than the built size is taken in parts of that size.
    /// With batches of the built size in stored order, equal to <see cref="Evaluate(Tensor, Tensor)"/> on the same examples.
    /// </summary>
    public Evaluation Evaluate(IBatchSource batches)
    {
        ArgumentNullException.ThrowIfNull(batches);
        int total = 0, correct = 0;
        double lossSum = 0;
        foreach (Batch batch in batches.GetEpoch(0))
        {
            CheckLabels(batch.Images, batch.Labels, anyBatch: true);
            int size = batch.Images.Shape[0];
            for (int start = 0; start < size; start += Options.BatchSize)
            {
                int count = Math.Min(Options.BatchSize, size - start);
                Tensor labels = count == size ? batch.Labels : batch.Labels.SliceBatch(start, count);
                Tensor logits = Forward(count == size ? batch.Images : batch.Images.SliceBatch(start, count), training: false);
                _loss!.Forward(logits, labels);
                foreach (float loss in _loss.PerExampleLoss)
                {
                    lossSum += loss;
                }
                correct += SoftmaxCrossEntropy.CountCorrect(logits.ReadOnlySpan, labels.ReadOnlySpan, count, logits.Shape[1]);
            }
            total += size;
        }
        if (total == 0)
        {
            throw new ArgumentException("Evaluate needs at least one example; the batch source yielded none.", nameof(batches));
        }
        return new Evaluation(lossSum / total, (double)correct / total, total);
    }

    /// <summary>The logits [N, classes] for any number of images, in batches of the built size, without dropout.</summary>
    public Tensor Predict(Tensor images)
    {
        CheckImages(images, anyBatch: true);
        var logits = new Tensor(images.Shape[0], OutputShape[0]);
        Predict(images, logits);
        return logits;
    }

    /// <summary>Writes the logits for <paramref name="images"/> into <paramref name="logits"/> [N, classes].</summary>
    public void Predict(Tensor images, Tensor logits)
    {
        CheckImages(images, anyBatch: true);
        ArgumentNullException.ThrowIfNull(logits);
        var expected = new Shape(images.Shape[0], OutputShape[0]);
        if (logits.Shape != expected)
        {
            throw new ArgumentException($"Predict expects a destination of shape {expected}; received {logits.Shape}.", nameof(logits));
        }
        int total = images.Shape[0], batch = Options.BatchSize;
        for (int start = 0; start < total; start += batch)
        {
            int count = Math.Min(batch, total - start);
            Forward(images.SliceBatch(start, count), training: false).ReadOnlySpan.CopyTo(logits.SliceBatch(start, count).Span);
        }
    }

    /// <summary>
    /// The logits [<see cref="IBatchSource.ExampleCount"/>, classes] of the examples of <paramref name="batches"/>
    /// (its epoch 0), in the order they come, without dropout; a batch larger than the built size is taken in parts of that size.
    /// </summary>
    public Tensor Predict(IBatchSource batches)
    {
        ArgumentNullException.ThrowIfNull(batches);
        if (!IsBuilt)
        {
            throw NotBuilt("Predict");
        }
        int total = batches.ExampleCount;
        if (total < 1)
        {
            throw new ArgumentException($"Predict needs at least one example; the batch source holds {total}.", nameof(batches));
        }
        var logits = new Tensor(total, OutputShape[0]); // [N, classes]
        int row = 0;
        foreach (Batch batch in batches.GetEpoch(0))
        {
            CheckImages(batch.Images, anyBatch: true);
            int size = batch.Images.Shape[0];
            if (row + size > total)
            {
                throw new ArgumentException(
                    $"The batch source declares {total} examples per epoch; received more ({row + size} after this batch).", nameof(batches));
            }
            for (int start = 0; start < size; start += Options.BatchSize)
            {
                int count = Math.Min(Options.BatchSize, size - start);
                Tensor images = count == size ? batch.Images : batch.Images.SliceBatch(start, count);
                Forward(images, training: false).ReadOnlySpan.CopyTo(logits.SliceBatch(row + start, count).Span);
            }
            row += size;
        }
        if (row != total)
        {
            throw new ArgumentException($"The batch source declares {total} examples per epoch; received {row}.", nameof(batches));
        }
        return logits;
    }

    /// <summary>The Keras-style table: layer (type), output shape, parameter count, totals.</summary>
    public string Summary()
    {
        if (!IsBuilt)
        {
            throw NotBuilt("Summary");
        }
        const int nameWidth = 29, shapeWidth = 26;
        string rule = new('_', 65), doubleRule = new('=', 65);
        var text = new StringBuilder();
        text.AppendLine("Model: \"sequential\"");
        text.AppendLine(rule);
        text.AppendLine($" {"Layer (type)",-(nameWidth - 1)}{"Output Shape",-shapeWidth}Param #");
        text.AppendLine(doubleRule);
        for (int index = 0; index < _layers.Length; index++)
        {
            ILayer layer = _layers[index];
            string type = layer is Layer typed ? typed.TypeName : layer.GetType().Name;
            string shape = "(None, " + string.Join(", ", layer.OutputShape.WithoutBatch().Dimensions.ToArray()) + ")";
            long count = layer.Parameters.Sum(p => (long)p.Value.Length);
            text.AppendLine($" {$"{layer.Name} ({type})",-(nameWidth - 1)}{shape,-shapeWidth}{count.ToString("N0", CultureInfo.InvariantCulture)}");
            text.AppendLine(index == _layers.Length - 1 ? doubleRule : "");
        }
        string total = ParameterCount.ToString("N0", CultureInfo.InvariantCulture);
        text.AppendLine($"Total params: {total}");
        text.AppendLine($"Trainable params: {total}");
        text.AppendLine("Non-trainable params: 0");
        text.Append(rule);
        return text.ToString();
    }

    private void CheckImages(Tensor images, bool anyBatch = false)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (!IsBuilt)
        {
            throw NotBuilt("Forward");
        }
        Shape expected = InputShape;
        bool matches = images.Shape.Rank == expected.Rank + 1;
        for (int axis = 0; matches && axis < expected.Rank; axis++)
        {
            matches = images.Shape[axis + 1] == expected[axis];
        }
        if (!matches)
        {
            throw new ArgumentException(
                $"The model expects images of shape [N, {string.Join(", ", expected.Dimensions.ToArray())}]; received {images.Shape}.", nameof(images));
        }
        if (!anyBatch && images.Shape[0] > Options.BatchSize)
        {
            throw new ArgumentException(
                $"The model was built for batches of at most {Options.BatchSize}; received a batch of {images.Shape[0]} (shape {images.Shape}).", nameof(images));
        }
    }

    private void CheckLabels(Tensor images, Tensor oneHotLabels, bool anyBatch = false)
    {
        CheckImages(images, anyBatch);
        ArgumentNullException.ThrowIfNull(oneHotLabels);
        int classes = _layers[^1].OutputShape[1];
        Shape labels = oneHotLabels.Shape;
        if (labels.Rank != 2 || labels[0] != images.Shape[0] || labels[1] != classes)
        {
            throw new ArgumentException(
                $"Expected one-hot labels of shape [{images.Shape[0]}, {classes}] for images {images.Shape}; received {labels}.", nameof(oneHotLabels));
        }
    }

    private static InvalidOperationException NotBuilt(string what) =>
        new($"{what} needs a built model; expected Build(inputShape) to be called first.");
}
