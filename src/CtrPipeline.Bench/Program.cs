using CtrPipeline.Bench;

return await BenchCli.Root().Parse(args).InvokeAsync();
