namespace Mnist;

/// <summary>The sample console (commands come with the console issue).</summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static int Main(string[] args)
    {
        var model = Engine.ReferenceModels.MnistCnn();
        model.Build(Engine.ReferenceModels.MnistInput);
        Console.WriteLine(model.Summary());
        return 0;
    }
}
