using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/CtrPipeline.Microbench [-- --filter '*Parse*']
BenchmarkSwitcher.FromAssembly(typeof(CtrPipeline.Microbench.EngineCoreBenchmarks).Assembly).Run(args);
