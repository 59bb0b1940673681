namespace Mnist;
internal static class TrainCommand { public static System.CommandLine.Command Create(ConsoleSession session) => new("train"); }
internal static class EvaluateCommand { public static System.CommandLine.Command Create(ConsoleSession session) => new("evaluate"); }
internal static class PredictCommand { public static System.CommandLine.Command Create(ConsoleSession session) => new("predict"); }
