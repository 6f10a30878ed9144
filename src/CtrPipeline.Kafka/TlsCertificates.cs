using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace CtrPipeline.Kafka;

/// <summary>
/// Certificates for a TLS listener on 127.0.0.1: a throwaway CA, a server certificate it signs (SAN IP 127.0.0.1 and
/// DNS localhost, which clients' hostname verification checks), optionally a client certificate, written as PEM for
/// librdkafka's ssl.ca.location, ssl.certificate.location and ssl.key.location. Or a given certificate and CA, read
/// from PEM files.
/// </summary>
public static class TlsCertificates
{
    public const string CaFile = "ca.pem";
    public const string ServerCertificateFile = "server.pem";
    public const string ServerKeyFile = "server.key";
    public const string ClientCertificateFile = "client.pem";
    public const string ClientKeyFile = "client.key";

    /// <summary>What <see cref="Generate"/> made: the CA and server certificate (with their keys), and the folder of PEM files.</summary>
    public sealed record Generated(X509Certificate2 Authority, X509Certificate2 Server, string Folder, bool HasClientCertificate)
    {
        public string CaPath => Path.Combine(Folder, CaFile);
        public string ClientCertificatePath => Path.Combine(Folder, ClientCertificateFile);
        public string ClientKeyPath => Path.Combine(Folder, ClientKeyFile);
    }

    /// <summary>
    /// Makes a new CA, a server certificate and (with <paramref name="clientCertificate"/>) a client certificate, and
    /// writes them to <paramref name="folder"/> (created if need be; files of an earlier run are replaced).
    /// </summary>
    public static Generated Generate(string folder, bool clientCertificate)
    {
        Directory.CreateDirectory(folder);
        var now = DateTimeOffset.UtcNow;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=Embedded Kafka test CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        var authority = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddYears(2));
        Write(folder, CaFile, authority.ExportCertificatePem());

        var sans = new SubjectAlternativeNameBuilder();
        sans.AddIpAddress(IPAddress.Loopback);
        sans.AddDnsName("localhost");
        var server = Issue(authority, "CN=localhost", "1.3.6.1.5.5.7.3.1", sans.Build(), folder, ServerCertificateFile, ServerKeyFile); // serverAuth
        if (clientCertificate)
            Issue(authority, "CN=embedded-kafka-client", "1.3.6.1.5.5.7.3.2", null, folder, ClientCertificateFile, ClientKeyFile).Dispose(); // clientAuth
        return new Generated(authority, server, Path.GetFullPath(folder), clientCertificate);
    }

    /// <summary>A server certificate and its private key from PEM files.</summary>
    public static X509Certificate2 LoadCertificate(string certificatePath, string keyPath) =>
        X509Certificate2.CreateFromPemFile(certificatePath, keyPath);

    /// <summary>The CA certificates of a PEM file (one or more).</summary>
    /// <exception cref="CryptographicException">The file holds no certificate.</exception>
    public static X509Certificate2Collection LoadAuthorities(string path)
    {
        var authorities = new X509Certificate2Collection();
        authorities.ImportFromPemFile(path);
        if (authorities.Count == 0) throw new CryptographicException($"{path} holds no PEM certificate.");
        return authorities;
    }

    private static X509Certificate2 Issue(X509Certificate2 authority, string subject, string usage, X509Extension? sans, string folder, string certificateFile, string keyFile)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));
        if (sans is not null) request.CertificateExtensions.Add(sans);
        var now = DateTimeOffset.UtcNow;
        using var issued = request.Create(authority, now.AddHours(-1), now.AddYears(1), RandomNumberGenerator.GetBytes(16));
        Write(folder, certificateFile, issued.ExportCertificatePem());
        Write(folder, keyFile, key.ExportPkcs8PrivateKeyPem(), secret: true);
        return issued.CopyWithPrivateKey(key);
    }

    private static void Write(string folder, string file, string pem, bool secret = false)
    {
        var path = Path.Combine(folder, file);
        File.WriteAllText(path, pem + "\n");
        if (secret && !OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }
}
