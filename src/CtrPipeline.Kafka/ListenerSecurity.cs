using System.Security.Cryptography.X509Certificates;
using Confluent.Kafka;

namespace CtrPipeline.Kafka;

/// <summary>
/// What a <see cref="BrokerProxy"/> requires of its clients, as a Kafka listener would: TLS (SSL, SASL_SSL), with or
/// without a client certificate, and SASL authentication (SASL_PLAINTEXT, SASL_SSL) with PLAIN or SCRAM-SHA-256/512.
/// One instance serves every proxy of a cluster; the SCRAM salts are drawn once, here.
/// </summary>
public sealed class ListenerSecurity
{
    /// <summary>The SASL mechanisms the proxy speaks, by their Kafka names.</summary>
    public static readonly IReadOnlyList<string> SupportedMechanisms = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

    // After SupportedMechanisms, which the constructor reads.
    public static readonly ListenerSecurity Plaintext = new(SecurityProtocol.Plaintext);

    /// <param name="users">SASL user names and passwords; needed for SASL_PLAINTEXT and SASL_SSL.</param>
    /// <param name="mechanisms">The enabled SASL mechanisms (null: all of <see cref="SupportedMechanisms"/>).</param>
    /// <param name="serverCertificate">With its private key; needed for SSL and SASL_SSL.</param>
    /// <param name="clientCertificateIssuers">Non-null: a client certificate is required, signed by one of these.</param>
    /// <exception cref="ArgumentException">The combination does not make a listener.</exception>
    public ListenerSecurity(
        SecurityProtocol protocol,
        IReadOnlyDictionary<string, string>? users = null,
        IEnumerable<string>? mechanisms = null,
        X509Certificate2? serverCertificate = null,
        X509Certificate2Collection? clientCertificateIssuers = null)
    {
        Protocol = protocol;
        Mechanisms = [.. mechanisms ?? SupportedMechanisms];
        if (Mechanisms.FirstOrDefault(m => !SupportedMechanisms.Contains(m)) is { } unknown)
            throw new ArgumentException($"SASL mechanism '{unknown}' is not supported; use {string.Join(", ", SupportedMechanisms)}.", nameof(mechanisms));
        if (UsesSasl)
        {
            if (Mechanisms.Count == 0) throw new ArgumentException($"{Name(protocol)} needs at least one SASL mechanism.", nameof(mechanisms));
            if (users is null || users.Count == 0) throw new ArgumentException($"{Name(protocol)} needs at least one SASL user.", nameof(users));
            Credentials = new SaslCredentials(users, Mechanisms);
        }
        if (UsesTls)
        {
            if (serverCertificate is null || !serverCertificate.HasPrivateKey)
                throw new ArgumentException($"{Name(protocol)} needs a server certificate with its private key.", nameof(serverCertificate));
            ServerCertificate = serverCertificate;
        }
        else if (clientCertificateIssuers is not null)
            throw new ArgumentException($"A client certificate can only be required with TLS (SSL or SASL_SSL), not {Name(protocol)}.", nameof(clientCertificateIssuers));
        ClientCertificateIssuers = clientCertificateIssuers;
    }

    public SecurityProtocol Protocol { get; }

    public IReadOnlyList<string> Mechanisms { get; }

    public X509Certificate2? ServerCertificate { get; }

    public X509Certificate2Collection? ClientCertificateIssuers { get; }

    public bool UsesTls => Protocol is SecurityProtocol.Ssl or SecurityProtocol.SaslSsl;

    public bool UsesSasl => Protocol is SecurityProtocol.SaslPlaintext or SecurityProtocol.SaslSsl;

    internal SaslCredentials? Credentials { get; }

    /// <summary>The protocol's Kafka name (SASL_SSL), as clients' security.protocol takes it.</summary>
    public static string Name(SecurityProtocol protocol) => protocol switch
    {
        SecurityProtocol.Plaintext => "PLAINTEXT",
        SecurityProtocol.Ssl => "SSL",
        SecurityProtocol.SaslPlaintext => "SASL_PLAINTEXT",
        _ => "SASL_SSL",
    };

    /// <summary>The protocol of a Kafka name (case-insensitive); false for anything else.</summary>
    public static bool TryParse(string name, out SecurityProtocol protocol)
    {
        foreach (var candidate in Enum.GetValues<SecurityProtocol>())
            if (string.Equals(Name(candidate), name, StringComparison.OrdinalIgnoreCase))
            {
                protocol = candidate;
                return true;
            }
        protocol = default;
        return false;
    }

    /// <summary>For logs: the protocol, the mechanisms and whether a client certificate is required; never a password.</summary>
    public override string ToString() =>
        Name(Protocol) + (UsesSasl ? $" ({string.Join(", ", Mechanisms)}; {Credentials!.UserCount} user(s))" : "") +
        (ClientCertificateIssuers is not null ? ", client certificate required" : "");

    /// <summary>
    /// A client certificate passes when it chains up to one of <see cref="ClientCertificateIssuers"/> alone (not the
    /// machine's trust store) and is valid for client authentication.
    /// </summary>
    internal bool IsClientCertificateValid(X509Certificate? certificate)
    {
        if (ClientCertificateIssuers is null) return true;
        if (certificate is null) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(ClientCertificateIssuers);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.2")); // clientAuth
        return chain.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
    }
}
