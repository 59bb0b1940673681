// TorchSharp peer for the engine's reference model (the TensorFlow 2 MNIST CNN), for timing.
// Self-contained: reads the gzip IDX files itself and depends on none of the engine's assemblies.
// See ../README.md for how to run it on Debian 12 (the GLIBCXX_3.4.32 workaround) and why.
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchSharpPeer;

internal static partial class Program
{
    private const int RtldNow = 0x2;
    private const int RtldGlobal = 0x100;

    [LibraryImport("libc.so.6", EntryPoint = "dlopen", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr DlOpen(string path, int mode);

    [LibraryImport("libc.so.6", EntryPoint = "dlerror")]
    private static partial IntPtr DlError();

    private static int Main(string[] args)
    {
        Options o;
        try
        {
            o = Options.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(Options.Usage);
            return 2;
        }
        if (o.Help)
        {
            Console.WriteLine(Options.Usage);
            return 0;
        }

        // Must happen before the first TorchSharp call: the shim's std::ios_base_library_init()
        // has to be in the global scope when libLibTorchSharp.so is bound (RTLD_NOW).
        // NativeLibrary.Load uses RTLD_LOCAL, so dlopen itself is called.
        if (!LoadShim(o))
            return 3;
        return Run(o);
    }

    private static bool LoadShim(Options o)
    {
        if (o.NoShim)
            return true;
        string path = o.ShimPath ?? Path.Combine(AppContext.BaseDirectory, "libiosinit_shim.so");
        if (!File.Exists(path))
        {
            if (o.ShimPath != null)
            {
                Console.Error.WriteLine($"shim not found: {path}");
                return false;
            }
            Console.WriteLine($"shim: none at {path} (not needed where libstdc++ has GLIBCXX_3.4.32)");
            return true;
        }
        if (DlOpen(path, RtldNow | RtldGlobal) == IntPtr.Zero)
        {
            Console.Error.WriteLine($"dlopen({path}) failed: {Marshal.PtrToStringUTF8(DlError())}");
            return false;
        }
        Console.WriteLine($"shim: loaded {path} (RTLD_NOW | RTLD_GLOBAL)");
        return true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Run(Options o)
    {
        string dir = o.DataDir ?? FindDataDir()
            ?? throw new DirectoryNotFoundException("no shared/data/mnist above the current directory; pass --data DIR");
        var sw = Stopwatch.StartNew();
        float[] trainImages = ReadImages(Path.Combine(dir, "train-images-idx3-ubyte.gz"), out int nTrain);
        long[] trainLabels = ReadLabels(Path.Combine(dir, "train-labels-idx1-ubyte.gz"), nTrain);
        float[] testImages = ReadImages(Path.Combine(dir, "t10k-images-idx3-ubyte.gz"), out int nTest);
        long[] testLabels = ReadLabels(Path.Combine(dir, "t10k-labels-idx1-ubyte.gz"), nTest);
        Console.WriteLine($"data: {dir}: {nTrain} train, {nTest} test images ({sw.Elapsed.TotalSeconds:F2} s)");

        torch.set_num_threads(o.Threads);
        torch.manual_seed(o.Seed);
        Console.WriteLine($"TorchSharp {typeof(torch).Assembly.GetName().Version}, torch threads {torch.get_num_threads()}, " +
                          $"batch {o.Batch}, epochs {o.Epochs}, seed {o.Seed}");

        using var trainX = torch.tensor(trainImages, new long[] { nTrain, 1, 28, 28 });
        using var trainY = torch.tensor(trainLabels);
        using var testX = torch.tensor(testImages, new long[] { nTest, 1, 28, 28 });
        using var testY = torch.tensor(testLabels);

        using var model = BuildModel();
        Console.WriteLine($"model: {model.parameters().Sum(p => p.numel())} parameters");
        using var optimizer = torch.optim.Adam(model.parameters(), lr: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-7);

        var rng = new Random(o.Seed);
        var order = new long[nTrain];
        for (int i = 0; i < nTrain; i++)
            order[i] = i;
        int steps = nTrain / o.Batch;
        var epochSeconds = new List<double>();
        var trainRates = new List<double>();

        for (int epoch = 1; epoch <= o.Epochs; epoch++)
        {
            rng.Shuffle(order);
            model.train();
            double lossSum = 0;
            var clock = Stopwatch.StartNew();
            using (var perm = torch.tensor(order))
            {
                for (int s = 0; s < steps; s++)
                {
                    using var scope = torch.NewDisposeScope();
                    var idx = perm.narrow(0, (long)s * o.Batch, o.Batch);
                    var x = trainX.index_select(0, idx);
                    var y = trainY.index_select(0, idx);
                    optimizer.zero_grad();
                    var loss = nn.functional.cross_entropy(model.forward(x), y);
                    loss.backward();
                    optimizer.step();
                    lossSum += loss.item<float>();
                }
            }
            double seconds = clock.Elapsed.TotalSeconds;
            double rate = steps * o.Batch / seconds;
            epochSeconds.Add(seconds);
            trainRates.Add(rate);
            Console.WriteLine($"epoch {epoch}/{o.Epochs}: {seconds:F2} s, {rate:F0} images/s, train loss {lossSum / steps:F4}");
        }

        // Inference: every pass is timed; the first also gives the test accuracy.
        model.eval();
        double accuracy = 0;
        var inferRates = new List<double>();
        using (torch.no_grad())
        {
            for (int rep = 1; rep <= o.InferReps; rep++)
            {
                long correct = 0;
                var clock = Stopwatch.StartNew();
                for (int start = 0; start < nTest; start += o.InferBatch)
                {
                    using var scope = torch.NewDisposeScope();
                    int n = Math.Min(o.InferBatch, nTest - start);
                    var predicted = model.forward(testX.narrow(0, start, n)).argmax(1);
                    correct += predicted.eq(testY.narrow(0, start, n)).sum().item<long>();
                }
                double seconds = clock.Elapsed.TotalSeconds;
                inferRates.Add(nTest / seconds);
                if (rep == 1)
                    accuracy = (double)correct / nTest;
                Console.WriteLine($"inference pass {rep}/{o.InferReps}, batch {o.InferBatch}: {seconds:F3} s, {nTest / seconds:F0} images/s");
            }
        }
        Console.WriteLine($"test accuracy {accuracy:P2} ({nTest} images)");

        static string Join(IEnumerable<double> xs, string format) =>
            string.Join(",", xs.Select(x => x.ToString(format, CultureInfo.InvariantCulture)));
        Console.WriteLine(
            $"epoch_seconds={Join(epochSeconds, "F2")} train_images_per_second={Join(trainRates, "F0")} " +
            $"test_accuracy={accuracy.ToString("F4", CultureInfo.InvariantCulture)} " +
            $"infer_batch={o.InferBatch} infer_images_per_second={Join(inferRates, "F0")} " +
            $"threads={o.Threads} batch={o.Batch} epochs={o.Epochs}");
        return 0;
    }

    /// <summary>
    /// The reference model. TF 'same' 2x2/2 max-pooling of 7x7 pads one row/column at the end
    /// (output 4x4); ceil_mode gives exactly that (the last window is clipped). 28 and 14 are even,
    /// so the first two pools are unaffected. Weights Glorot-uniform and biases zero, as Keras does.
    /// (Flatten is over NCHW here, NHWC in TF: a fixed permutation of dense1's inputs, same model.)
    /// </summary>
    private static nn.Module<Tensor, Tensor> BuildModel()
    {
        var model = nn.Sequential(
            ("conv1", nn.Conv2d(1, 32, 3, padding: 1)),
            ("relu1", nn.ReLU()),
            ("pool1", nn.MaxPool2d(2, stride: 2, ceil_mode: true)),   // 28 -> 14
            ("conv2", nn.Conv2d(32, 64, 3, padding: 1)),
            ("relu2", nn.ReLU()),
            ("pool2", nn.MaxPool2d(2, stride: 2, ceil_mode: true)),   // 14 -> 7
            ("conv3", nn.Conv2d(64, 128, 3, padding: 1)),
            ("relu3", nn.ReLU()),
            ("pool3", nn.MaxPool2d(2, stride: 2, ceil_mode: true)),   // 7 -> 4
            ("flatten", nn.Flatten()),                                 // 128 * 4 * 4 = 2048
            ("dense1", nn.Linear(2048, 256)),
            ("relu4", nn.ReLU()),
            ("dropout", nn.Dropout(0.4)),
            ("dense2", nn.Linear(256, 10)));
        using (torch.no_grad())
        {
            foreach (var (name, p) in model.named_parameters())
            {
                if (name.EndsWith(".weight", StringComparison.Ordinal))
                    nn.init.xavier_uniform_(p);
                else
                    nn.init.zeros_(p);
            }
        }
        return model;
    }

    private static string? FindDataDir()
    {
        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var d = new DirectoryInfo(start); d != null; d = d.Parent)
            {
                string candidate = Path.Combine(d.FullName, "shared", "data", "mnist");
                if (File.Exists(Path.Combine(candidate, "train-images-idx3-ubyte.gz")))
                    return candidate;
            }
        }
        return null;
    }

    private static byte[] ReadGzip(string path)
    {
        using var file = File.OpenRead(path);
        using var gz = new GZipStream(file, CompressionMode.Decompress);
        using var ms = new MemoryStream();
        gz.CopyTo(ms);
        return ms.ToArray();
    }

    private static int BigEndian(byte[] b, int offset) =>
        (b[offset] << 24) | (b[offset + 1] << 16) | (b[offset + 2] << 8) | b[offset + 3];

    private static float[] ReadImages(string path, out int count)
    {
        byte[] b = ReadGzip(path);
        if (BigEndian(b, 0) != 2051)
            throw new InvalidDataException($"{path}: not an IDX image file");
        count = BigEndian(b, 4);
        int rows = BigEndian(b, 8), cols = BigEndian(b, 12);
        if (rows != 28 || cols != 28 || b.Length != 16 + count * 784)
            throw new InvalidDataException($"{path}: expected 28x28 images");
        var x = new float[count * 784];
        for (int i = 0; i < x.Length; i++)
            x[i] = b[16 + i] / 255f;
        return x;
    }

    private static long[] ReadLabels(string path, int expected)
    {
        byte[] b = ReadGzip(path);
        if (BigEndian(b, 0) != 2049 || BigEndian(b, 4) != expected || b.Length != 8 + expected)
            throw new InvalidDataException($"{path}: not an IDX label file with {expected} labels");
        var y = new long[expected];
        for (int i = 0; i < expected; i++)
            y[i] = b[8 + i];
        return y;
    }
}

internal sealed class Options
{
    public const string Usage =
        "usage: TorchSharpPeer [--threads N=2] [--epochs N=1] [--data DIR] [--batch N=100] [--seed N=1]\n" +
        "                      [--infer-batch N=1000] [--infer-reps N=3] [--shim PATH | --no-shim]";

    public int Threads { get; private set; } = 2;
    public int Epochs { get; private set; } = 1;
    public string? DataDir { get; private set; }
    public int Batch { get; private set; } = 100;
    public int Seed { get; private set; } = 1;
    public int InferBatch { get; private set; } = 1000;
    public int InferReps { get; private set; } = 3;
    public string? ShimPath { get; private set; }
    public bool NoShim { get; private set; }
    public bool Help { get; private set; }

    public static Options Parse(string[] args)
    {
        var o = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{a} needs a value");
            int Positive()
            {
                string v = Value();
                return int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0
                    ? n : throw new ArgumentException($"{a}: expected a positive integer, got '{v}'");
            }
            switch (a)
            {
                case "--threads": o.Threads = Positive(); break;
                case "--epochs": o.Epochs = Positive(); break;
                case "--data": o.DataDir = Value(); break;
                case "--batch": o.Batch = Positive(); break;
                case "--seed": o.Seed = Positive(); break;
                case "--infer-batch": o.InferBatch = Positive(); break;
                case "--infer-reps": o.InferReps = Positive(); break;
                case "--shim": o.ShimPath = Value(); break;
                case "--no-shim": o.NoShim = true; break;
                case "-h" or "--help": o.Help = true; break;
                default: throw new ArgumentException($"unknown argument '{a}'");
            }
        }
        return o;
    }
}
