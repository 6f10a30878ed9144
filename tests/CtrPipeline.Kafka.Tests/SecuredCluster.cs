namespace CtrPipeline.Kafka.Tests;

/// <summary>An embedded cluster with every broker behind a proxy of the given security, as EmbeddedKafka runs it.</summary>
internal sealed class SecuredCluster : IAsyncDisposable
{
    private readonly EmbeddedKafkaCluster _cluster;
    private readonly List<BrokerProxy> _proxies = [];

    private SecuredCluster(EmbeddedKafkaCluster cluster) => _cluster = cluster;

    public static SecuredCluster Start(ListenerSecurity security, int brokers = 1)
    {
        var secured = new SecuredCluster(EmbeddedKafkaCluster.Start(brokers, [("events", 2)]));
        foreach (var (id, listener) in secured._cluster.Listeners)
        {
            var proxy = new BrokerProxy(0, listener, secured._cluster.TryCreateTopic, security);
            secured._proxies.Add(proxy);
            secured._cluster.Advertise(id, "127.0.0.1", proxy.Port);
        }
        return secured;
    }

    public string Bootstrap => _proxies[0].Address;

    public IEnumerable<int> Ports => _proxies.Select(p => p.Port);

    public async ValueTask DisposeAsync()
    {
        foreach (var proxy in _proxies) await proxy.DisposeAsync();
        _cluster.Dispose();
    }
}
