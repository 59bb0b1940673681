// Saves checkpoints in an endless loop so that a test can kill this process (SIGKILL) at random moments
// and check that the directory still restores. Every value in save k is derived from k, which the
// metadata entry "counter" records, so the test can verify that a restored checkpoint is whole.
//
// Usage: Engine.Tests.CrashWriter <directory> <floats per large tensor> <max to keep>
// Prints "saved <counter> <path>" after each save.
using System.Globalization;

using Engine;
using Engine.Checkpoint;

if (args.Length != 3)
{
    Console.Error.WriteLine($"Expected 3 arguments (directory, floats per large tensor, max to keep); received {args.Length}.");
    return 2;
}
string directory = args[0];
int largeLength = int.Parse(args[1], CultureInfo.InvariantCulture);
int maxToKeep = int.Parse(args[2], CultureInfo.InvariantCulture);

var manager = new CheckpointManager(directory, maxToKeep);
long counter = manager.RestoreLatest() is { } previous ? long.Parse(previous.Metadata["counter"], CultureInfo.InvariantCulture) : 0;

var kernel = new Tensor(largeLength);          // [L]
var bias = new Tensor(10);                     // [10]
var moment = new Tensor(largeLength);          // [L]
while (true)
{
    counter++;
    kernel.Span.Fill(counter);
    bias.Span.Fill(-counter);
    moment.Span.Fill(counter * 0.5f);
    string path = manager.Save(new CheckpointContents
    {
        Architecture = "crash-writer",
        Parameters = [new NamedTensor("large/kernel", kernel), new NamedTensor("large/bias", bias)],
        OptimizerName = "adam",
        OptimizerSlots = [new NamedTensor("large/kernel/m", moment)],
        OptimizerStep = counter,
        Epoch = (int)counter,
        Step = counter * 10,
        Metadata = new Dictionary<string, string> { ["counter"] = counter.ToString(CultureInfo.InvariantCulture) },
    });
    Console.Out.WriteLine($"saved {counter} {path}");
    Console.Out.Flush();
}
