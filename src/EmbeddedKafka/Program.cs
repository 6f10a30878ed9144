using CtrPipeline.Contracts;
using CtrPipeline.Kafka;

// The embedded Kafka-protocol broker the AppHost starts when no container runtime is there: librdkafka's mock
// cluster, in memory only, behind a fixed bootstrap port. HTTP: /health, GET /topics, POST /topics/reset, GET /bootstrap,
// GET /tls/ca (the generated CA, PEM), and for fault tests POST /brokers/{id}/down and /brokers/{id}/up (id 1..n, or "all").
// `EmbeddedKafka reset --url http://127.0.0.1:PORT` empties the topics of a running instance from the command line.
if (args is ["reset", ..])
    return await ResetCommand.RunAsync(args);

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
PipelineSettings pipeline;
SecuritySettings security;
int brokers, port;
try
{
    pipeline = builder.Configuration.BindSection<PipelineSettings>(PipelineSettings.Section).Validate();
    brokers = builder.Configuration.GetValue("EmbeddedKafka:Brokers", 1);
    port = builder.Configuration.GetValue("EmbeddedKafka:Port", 9092);
    if (brokers is < 1 or > 16) throw new ConfigurationException($"EmbeddedKafka:Brokers must be between 1 and 16 (got {brokers}).");
    if (port is < 0 or > 65535) throw new ConfigurationException($"EmbeddedKafka:Port must be a TCP port, or 0 for any free port (got {port}).");
    security = SecuritySettings.Read(builder.Configuration);
}
catch (ConfigurationException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

using var cluster = EmbeddedKafkaCluster.Start(brokers, pipeline.Topics.All.Select(t => (t, pipeline.Partitions)));
// Every client connection goes through a proxy, which answers the ApiVersions handshake the mock gets wrong for the
// Java client, and CreateTopics, which the mock lacks (see BrokerProxy): broker 1's proxy on the fixed bootstrap port,
// the others' on free ports. Every proxy requires the same TLS and SASL of its clients; the mock's own ports behind
// them stay unauthenticated, on 127.0.0.1 only.
var proxies = new List<BrokerProxy>();
try
{
    foreach (var (id, listener) in cluster.Listeners)
    {
        var proxy = new BrokerProxy(id == 1 ? port : 0, listener, cluster.TryCreateTopic, security.Listener);
        proxies.Add(proxy);
        cluster.Advertise(id, "127.0.0.1", proxy.Port);
    }
}
catch (System.Net.Sockets.SocketException e)
{
    foreach (var proxy in proxies) await proxy.DisposeAsync();
    Console.Error.WriteLine($"error: cannot listen on 127.0.0.1:{port} ({e.Message}). Is another Kafka running? " +
        "Choose another port: EmbeddedKafka:Port, or the AppHost parameter kafka-port (0 = any free port).");
    return 2;
}
var bootstrap = proxies[0].Address;

builder.Services.AddSingleton(cluster);
var app = builder.Build();
cluster.Logger = app.Logger; // topic configs the mock ignores
app.MapDefaultEndpoints();
app.MapGet("/topics", () => cluster.Offsets().Select(o => new { topic = o.Topic, partition = o.Partition, start = o.Low, end = o.High }));
app.MapPost("/topics/reset", () =>
{
    var removed = cluster.ResetTopics();
    app.Logger.LogInformation("Topics reset: {Removed}", string.Join(", ", removed.Select(r => $"{r.Key} -{r.Value}")));
    return Results.Ok(removed);
});

app.MapGet("/bootstrap", () => bootstrap);
app.MapGet("/tls/ca", () => security.Generated is { } generated
    ? Results.Text(generated.Authority.ExportCertificatePem() + "\n", "application/x-pem-file")
    : Results.NotFound("no generated CA: the broker's TLS certificate was given (EmbeddedKafka:Tls:Certificate), or it does not use TLS"));
// Fault injection: a broker that is down drops its connections and refuses new ones, as a stopped Kafka broker would
// (librdkafka's mock moves no partition leadership; with one broker the cluster is unreachable until it is up again).
app.MapPost("/brokers/{id}/down", (string id) => SetBrokers(id, up: false));
app.MapPost("/brokers/{id}/up", (string id) => SetBrokers(id, up: true));

app.Logger.LogWarning(
    "Embedded Kafka broker (librdkafka mock cluster, {Brokers} broker(s)) at {Bootstrap}: data is kept in memory only and lost when it stops; each partition keeps its newest 5 MiB. Topics: {Topics} x {Partitions} partitions.",
    brokers, bootstrap, string.Join(", ", pipeline.Topics.All), pipeline.Partitions);
app.Logger.LogInformation("Clients connect with security.protocol {Security}.", security.Listener);
if (security.Generated is { } tls)
    app.Logger.LogInformation(
        "TLS certificates generated in {Folder}: clients trust {CaFile} (ssl.ca.location){ClientCertificate}.",
        tls.Folder, tls.CaPath, tls.HasClientCertificate ? $"; client certificate {tls.ClientCertificatePath}, key {tls.ClientKeyPath}" : "");
try
{
    await app.RunAsync();
}
finally
{
    foreach (var proxy in proxies) await proxy.DisposeAsync();
}
return 0;

IResult SetBrokers(string id, bool up)
{
    IEnumerable<int> ids;
    if (id == "all") ids = Enumerable.Range(1, cluster.Brokers);
    else if (int.TryParse(id, out var one) && one >= 1 && one <= cluster.Brokers) ids = [one];
    else return Results.BadRequest($"no broker '{id}': use 1..{cluster.Brokers} or all");
    foreach (var broker in ids)
        if (up) cluster.SetBrokerUp(broker);
        else cluster.SetBrokerDown(broker);
    app.Logger.LogWarning("Broker(s) {Id} {State} (fault injection)", id, up ? "up" : "down");
    return Results.Ok(new { brokers = id, state = up ? "up" : "down" });
}

/// <summary>`reset --url http://127.0.0.1:PORT`: asks a running embedded broker to empty its topics.</summary>
internal static class ResetCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var url = args.SkipWhile(a => a != "--url").Skip(1).FirstOrDefault();
        if (url is null || !Uri.TryCreate(url, UriKind.Absolute, out var baseUri))
        {
            Console.Error.WriteLine("error: usage: EmbeddedKafka reset --url http://127.0.0.1:PORT (the broker's HTTP endpoint, shown in the dashboard)");
            return 2;
        }
        using var http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            var response = await http.PostAsync("/topics/reset", null);
            Console.WriteLine(await response.Content.ReadAsStringAsync());
            return response.IsSuccessStatusCode ? 0 : 1;
        }
        catch (HttpRequestException e)
        {
            Console.Error.WriteLine($"error: no embedded broker answered at {baseUri}: {e.Message}");
            return 1;
        }
    }
}
