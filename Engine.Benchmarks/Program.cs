BenchmarkDotNet.Running.BenchmarkSwitcher.FromAssembly(typeof(Engine.Benchmarks.LayerBenchmarks).Assembly).Run(args);
