using System.CommandLine;
using Engine;

namespace Mnist;

/// <summary><c>summary</c>: the Keras-style table of the reference model (619,786 trainable parameters).</summary>
internal static class SummaryCommand
{
    public static Command Create(ConsoleSession session)
    {
        var command = new Command("summary", "Print the reference model's Keras-style summary table.");
        command.SetAction(_ => Cli.Guard(session, () =>
        {
            Sequential model = ReferenceModels.MnistCnn();
            model.Build(ReferenceModels.MnistInput, new ModelOptions(Threads: 1));
            session.Out.WriteLine(model.Summary());
            return ExitCodes.Success;
        }));
        return command;
    }
}
