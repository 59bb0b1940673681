using System.CommandLine;
using System.Globalization;
using System.Text;
using Engine;
using Engine.Data;
using Engine.Initializers;
using Engine.Layers;

namespace Mnist;

/// <summary>
/// <c>basics</c>: the lab's CNN-basics walk-through. Tiny convolutions and poolings printed as the
/// lab prints them (shapes as tuples, values as numpy arrays), then the first MNIST training image
/// through five random 3x3 filters (stride 2, SAME) and a 2x2 max-pool; every step also drawn as PNG.
/// </summary>
internal static class BasicsCommand
{
    public static Command Create(ConsoleSession session)
    {
        var output = new Option<string>("--out") { Description = "Folder for the pictures.", HelpName = "DIR", DefaultValueFactory = _ => "basics" };
        var data = Options.Data();
        var seed = Options.Integer("--seed", "Seed of the five random filters.", 42, int.MinValue);
        var command = new Command("basics", "Walk through the lab's CNN basics: tiny convolutions and poolings, then MNIST feature maps.")
        {
            output, data, seed,
        };
        command.SetAction(parse => Cli.Guard(session,
            () => Run(session, parse.GetValue(output)!, parse.GetValue(data), parse.GetValue(seed))));
        return command;
    }

    private static int Run(ConsoleSession session, string outputDirectory, string? dataDirectory, int seed)
    {
        TextWriter output = session.Out;
        AtomicFile.EnsureWritableDirectory(outputDirectory, "output folder");
        string Picture(string name) => Path.Combine(outputDirectory, name);

        output.WriteLine("1. A 3x3 image");
        Tensor image = Tensor.FromValues(new Shape(1, 3, 3, 1), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
        output.WriteLine($"image.shape {Tuple(image.Shape)}");
        output.WriteLine(FormatArray(Channel(image, 0), 3, 3));
        Pictures.Save(Picture("01_image.png"), new GrayImage(Channel(image, 0), 3, 3), 64);

        output.WriteLine();
        output.WriteLine("2. Convolution with a 2x2 kernel of ones, stride 1, VALID");
        Tensor valid = Convolve(image, filterWeights: [1f], Padding.Valid, out Shape weightShape);
        output.WriteLine($"weight.shape {Tuple(weightShape)}");
        output.WriteLine($"conv2d.shape {Tuple(valid.Shape)}");
        output.WriteLine(FormatArray(Channel(valid, 0), 2, 2));
        Pictures.Save(Picture("02_conv_valid.png"), new GrayImage(Channel(valid, 0), 2, 2), 64);

        output.WriteLine();
        output.WriteLine("3. The same kernel, SAME padding");
        Tensor same = Convolve(image, filterWeights: [1f], Padding.Same, out weightShape);
        output.WriteLine($"weight.shape {Tuple(weightShape)}");
        output.WriteLine($"conv2d.shape {Tuple(same.Shape)}");
        output.WriteLine(FormatArray(Channel(same, 0), 3, 3));
        Pictures.Save(Picture("03_conv_same.png"), new GrayImage(Channel(same, 0), 3, 3), 64);

        output.WriteLine();
        output.WriteLine("4. Three filters with weights 1, 10 and -1, SAME padding");
        Tensor three = Convolve(image, filterWeights: [1f, 10f, -1f], Padding.Same, out weightShape);
        output.WriteLine($"weight.shape {Tuple(weightShape)}");
        output.WriteLine($"conv2d.shape {Tuple(three.Shape)}");
        var threeMaps = new List<GrayImage>();
        for (int filter = 0; filter < 3; filter++)
        {
            output.WriteLine(FormatArray(Channel(three, filter), 3, 3));
            threeMaps.Add(new GrayImage(Channel(three, filter), 3, 3));
        }
        Pictures.SaveRow(Picture("04_conv_three_filters.png"), threeMaps, 64);

        output.WriteLine();
        output.WriteLine("5. Max pooling 2x2, stride 1");
        Tensor small = Tensor.FromValues(new Shape(1, 2, 2, 1), [4, 3, 2, 1]);
        output.WriteLine($"image.shape {Tuple(small.Shape)}");
        output.WriteLine(FormatArray(Channel(small, 0), 2, 2));
        Tensor pooledValid = Pool(small, 2, 1, Padding.Valid);
        output.WriteLine($"VALID: pool.shape {Tuple(pooledValid.Shape)}");
        output.WriteLine(FormatArray(Channel(pooledValid, 0), 1, 1));
        Tensor pooledSame = Pool(small, 2, 1, Padding.Same);
        output.WriteLine($"SAME: pool.shape {Tuple(pooledSame.Shape)}");
        output.WriteLine(FormatArray(Channel(pooledSame, 0), 2, 2));
        Pictures.SaveRow(Picture("05_max_pool.png"),
            [new GrayImage(Channel(small, 0), 2, 2), new GrayImage(Channel(pooledValid, 0), 1, 1), new GrayImage(Channel(pooledSame, 0), 2, 2)], 64);

        output.WriteLine();
        output.WriteLine("6. The first MNIST training image");
        MnistDataset train = MnistData.LoadTrain(dataDirectory, limit: 1);
        Tensor digit = train.Images(0, 1);
        output.WriteLine($"train_images[0]: label {train.Labels[0]}, shape {Tuple(digit.Shape)}, values in [0, 1]");
        output.WriteLine(Pictures.ToText(digit.ReadOnlySpan, 28, 28));
        Pictures.Save(Picture("06_mnist_image.png"), new GrayImage(Channel(digit, 0), 28, 28), 8);

        output.WriteLine();
        output.WriteLine($"7. Five 3x3 filters ~ RandomNormal(stddev=0.01, seed={seed}), stride 2, SAME");
        var conv = new Conv2D(5, 3, strides: 2, padding: Padding.Same, kernelInitializer: new RandomNormal(0, 0.01));
        Tensor maps = Apply(conv, digit, seed);
        output.WriteLine($"weight.shape {Tuple(conv.Kernel.Value.Shape)}");
        output.WriteLine($"conv2d.shape {Tuple(maps.Shape)}");
        Pictures.SaveRow(Picture("07_mnist_conv_maps.png"), FeatureMaps(maps), 8);

        output.WriteLine();
        output.WriteLine("8. Max pooling 2x2, stride 2, SAME on those feature maps");
        Tensor pooledMaps = Pool(maps, 2, 2, Padding.Same);
        output.WriteLine($"pool.shape {Tuple(pooledMaps.Shape)}");
        Pictures.SaveRow(Picture("08_mnist_pool_maps.png"), FeatureMaps(pooledMaps), 16);

        output.WriteLine();
        output.WriteLine($"Pictures written to {Path.GetFullPath(outputDirectory)}");
        return ExitCodes.Success;
    }

    /// <summary>A 2x2 convolution of <paramref name="image"/> with one constant filter per weight (as the lab's kernels).</summary>
    private static Tensor Convolve(Tensor image, float[] filterWeights, Padding padding, out Shape weightShape)
    {
        var conv = Built(new Conv2D(filterWeights.Length, 2, padding: padding), image.Shape, seed: 0);
        Tensor kernel = conv.Kernel.Value; // [2, 2, 1, F]
        for (int index = 0; index < kernel.Length; index++)
        {
            kernel.Span[index] = filterWeights[index % filterWeights.Length];
        }
        weightShape = kernel.Shape;
        return conv.Forward(image, training: false).Clone();
    }

    private static Tensor Pool(Tensor input, int pool, int stride, Padding padding) =>
        Apply(new MaxPool2D(pool, stride, padding), input, seed: 0);

    /// <summary>Builds <paramref name="layer"/> alone for <paramref name="input"/> and returns a copy of its output.</summary>
    private static Tensor Apply(ILayer layer, Tensor input, int seed) =>
        Built(layer, input.Shape, seed).Forward(input, training: false).Clone();

    /// <summary>Builds <paramref name="layer"/> alone (as the lab calls a Keras layer on a tensor), initial weights drawn from <paramref name="seed"/>.</summary>
    private static T Built<T>(T layer, Shape inputShape, int seed) where T : ILayer
    {
        layer.Name = layer.KindName;
        var root = new RandomSource(unchecked((ulong)seed));
        layer.Build(inputShape, new LayerContext(root.Fork(), root.Fork(), new Workers(1)));
        return layer;
    }

    /// <summary>Channel <paramref name="channel"/> of the first example of an NHWC tensor, row-major [H, W].</summary>
    private static float[] Channel(Tensor tensor, int channel)
    {
        int height = tensor.Shape[1], width = tensor.Shape[2], channels = tensor.Shape[3];
        var values = new float[height * width];
        for (int pixel = 0; pixel < values.Length; pixel++)
        {
            values[pixel] = tensor.ReadOnlySpan[pixel * channels + channel];
        }
        return values;
    }

    private static List<GrayImage> FeatureMaps(Tensor maps) =>
        Enumerable.Range(0, maps.Shape[3]).Select(c => new GrayImage(Channel(maps, c), maps.Shape[1], maps.Shape[2], $"filter {c + 1}")).ToList();

    /// <summary>A shape as Python prints a tuple: (1, 3, 3, 1).</summary>
    internal static string Tuple(Shape shape) => "(" + string.Join(", ", shape.Dimensions.ToArray()) + ")";

    /// <summary>
    /// A [rows, columns] array as numpy prints float32 values: <c>[[12. 16.]\n [24. 28.]]</c>,
    /// whole numbers with a trailing dot, every element right-aligned to the widest.
    /// </summary>
    internal static string FormatArray(float[] values, int rows, int columns)
    {
        bool whole = values.All(v => v == MathF.Round(v));
        string[] texts = values.Select(v => whole
            ? ((double)v).ToString("0", CultureInfo.InvariantCulture) + "."
            : ((double)v).ToString("0.#######", CultureInfo.InvariantCulture)).ToArray();
        int width = texts.Max(t => t.Length);
        var text = new StringBuilder();
        for (int row = 0; row < rows; row++)
        {
            text.Append(row == 0 ? "[[" : " [");
            for (int column = 0; column < columns; column++)
            {
                text.Append(column == 0 ? "" : " ").Append(texts[row * columns + column].PadLeft(width));
            }
            text.Append(row == rows - 1 ? "]]" : "]");
            if (row < rows - 1)
            {
                text.AppendLine();
            }
        }
        return text.ToString();
    }
}
