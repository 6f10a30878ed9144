var builder = DistributedApplication.CreateBuilder(args);
builder.AddProject<Projects.Producer_Worker>("producer");
builder.Build().Run();
