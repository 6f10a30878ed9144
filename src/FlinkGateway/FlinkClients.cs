namespace FlinkGateway;

public static class FlinkClients
{
    /// <summary>
    /// A plain HttpClient for one Flink endpoint. Not the factory's: its standard resilience handler retries POSTs, and
    /// a statement sent twice could start the job twice.
    /// </summary>
    public static HttpClient Http(string baseUrl) => new()
    {
        BaseAddress = new Uri(baseUrl.EndsWith('/') ? baseUrl : baseUrl + "/"),
        Timeout = TimeSpan.FromSeconds(30),
    };
}
