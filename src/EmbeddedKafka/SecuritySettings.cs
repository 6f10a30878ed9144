using System.Security.Cryptography;
using Confluent.Kafka;
using CtrPipeline.Contracts;
using CtrPipeline.Kafka;

/// <summary>
/// What the broker's proxies require of clients (EmbeddedKafka:Security and EmbeddedKafka:Tls, see
/// docs/embedded-broker.md): the security protocol, SASL users and mechanisms, and the TLS certificates, generated
/// into a folder unless given.
/// </summary>
internal sealed record SecuritySettings(ListenerSecurity Listener, TlsCertificates.Generated? Generated)
{
    private const string Protocol = "EmbeddedKafka:Security:Protocol";
    private const string Mechanisms = "EmbeddedKafka:Security:Mechanisms";
    private const string Users = "EmbeddedKafka:Security:Users";
    private const string Folder = "EmbeddedKafka:Tls:Folder";
    private const string Certificate = "EmbeddedKafka:Tls:Certificate";
    private const string Key = "EmbeddedKafka:Tls:Key";
    private const string ClientCa = "EmbeddedKafka:Tls:ClientCa";
    private const string RequireClientCertificate = "EmbeddedKafka:Tls:RequireClientCertificate";

    /// <exception cref="ConfigurationException">A setting is invalid, or a certificate cannot be read or written.</exception>
    public static SecuritySettings Read(IConfiguration configuration)
    {
        var protocolName = configuration[Protocol] ?? "PLAINTEXT";
        if (!ListenerSecurity.TryParse(protocolName, out var protocol))
            throw new ConfigurationException($"{Protocol} must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (got '{protocolName}').");
        IReadOnlyList<string> mechanisms = configuration[Mechanisms] is { } list
            ? list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            : ListenerSecurity.SupportedMechanisms;
        if (mechanisms.FirstOrDefault(m => !ListenerSecurity.SupportedMechanisms.Contains(m)) is { } unknown)
            throw new ConfigurationException($"{Mechanisms}: '{unknown}' is not a mechanism the broker speaks; use a comma list of {string.Join(", ", ListenerSecurity.SupportedMechanisms)}.");
        var users = configuration.GetSection(Users).GetChildren().ToDictionary(u => u.Key, u => u.Value ?? "");
        if (users.FirstOrDefault(u => u.Value.Length == 0) is { Key: { } noPassword })
            throw new ConfigurationException($"{Users}:{noPassword} has no password.");
        if (protocol is SecurityProtocol.SaslPlaintext or SecurityProtocol.SaslSsl)
        {
            if (users.Count == 0) throw new ConfigurationException($"{ListenerSecurity.Name(protocol)} needs at least one user: {Users}:<name>=<password>.");
            if (mechanisms.Count == 0) throw new ConfigurationException($"{Mechanisms} is empty: {ListenerSecurity.Name(protocol)} needs at least one mechanism.");
        }

        bool require;
        try { require = configuration.GetValue(RequireClientCertificate, false); }
        catch (InvalidOperationException) { throw new ConfigurationException($"{RequireClientCertificate} must be true or false (got '{configuration[RequireClientCertificate]}')."); }
        string? certificate = configuration[Certificate], key = configuration[Key], clientCa = configuration[ClientCa];
        var tls = protocol is SecurityProtocol.Ssl or SecurityProtocol.SaslSsl;
        if (!tls && (require || certificate is not null || key is not null || clientCa is not null))
            throw new ConfigurationException($"The EmbeddedKafka:Tls settings apply to SSL and SASL_SSL only, and {Protocol} is {ListenerSecurity.Name(protocol)}.");
        if ((certificate is null) != (key is null))
            throw new ConfigurationException($"Give both {Certificate} and {Key} (PEM files), or neither to have certificates generated.");
        if (clientCa is not null && !require)
            throw new ConfigurationException($"{ClientCa} is set but {RequireClientCertificate} is not true.");
        if (require && certificate is not null && clientCa is null)
            throw new ConfigurationException($"{RequireClientCertificate} with a given {Certificate} needs {ClientCa}: the CA that signs client certificates.");

        try
        {
            TlsCertificates.Generated? generated = null;
            var server = certificate is not null ? TlsCertificates.LoadCertificate(certificate, key!) : null;
            if (tls && server is null)
            {
                // A client certificate is made only when clients need one signed by the generated CA.
                generated = TlsCertificates.Generate(configuration[Folder] ?? Path.Combine(Directory.GetCurrentDirectory(), "tls"), require && clientCa is null);
                server = generated.Server;
            }
            var issuers = !require ? null : clientCa is not null ? TlsCertificates.LoadAuthorities(clientCa) : [generated!.Authority];
            return new SecuritySettings(new ListenerSecurity(protocol, users, mechanisms, server, issuers), generated);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"TLS certificates: {e.Message}");
        }
    }
}
