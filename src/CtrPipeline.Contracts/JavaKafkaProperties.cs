namespace CtrPipeline.Contracts;

/// <summary>A file a Java Kafka client reads by path, and where a container sees it (a read-only bind mount).</summary>
public sealed record KafkaFileMount(string HostPath, string ContainerPath);

/// <summary>
/// The pipeline's Kafka client properties (librdkafka's names, <see cref="KafkaClientProperties"/>) in the Java Kafka
/// client's names, for the engines whose Kafka client is Java's: Flink and Spark. The table is small on purpose:
/// security.protocol, SASL PLAIN and SCRAM (as sasl.jaas.config), TLS trust and client certificates (as PEM or PKCS#12
/// stores), host name verification, and a few properties both clients name and read alike. Anything else is refused,
/// since a property the Java client does not know would be dropped with no more than a warning in the engine's log.
/// </summary>
/// <remarks>
/// The client certificate and its key are given inline (ssl.keystore.certificate.chain and ssl.keystore.key), read from
/// their files when the job is submitted: Java's file-based PEM key store wants the key and the chain in one file
/// (DefaultSslEngineFactory reads one file for both), while librdkafka names two, and joining them would mean writing a
/// file the containers see. The key then travels in the job's text as the SASL password does, so both are masked
/// wherever that text is shown (<see cref="Secrets"/>). The CA certificates and a PKCS#12 key store are read by Flink and
/// Spark themselves from the path in <see cref="Mounts"/>.
/// </remarks>
public sealed class JavaKafkaProperties
{
    /// <summary>Where the containers of Flink and Spark see the files the properties name.</summary>
    public const string DefaultFilesFolder = "/etc/ctr/kafka";

    /// <summary>The Kafka client's package as kafka-clients publishes it (Spark's spark-sql-kafka-0-10 uses it as is).</summary>
    public const string KafkaClientsPackage = "org.apache.kafka";

    /// <summary>Where flink-sql-connector-kafka relocates the Kafka client (its pom's shade relocation); a JAAS login module must be named there.</summary>
    public const string FlinkSqlConnectorPackage = "org.apache.flink.kafka.shaded.org.apache.kafka";

    public static readonly JavaKafkaProperties None = new([], [], []);

    /// <summary>The properties Java reads by path, mounted into the containers.</summary>
    private static readonly string[] MountedFiles = ["ssl.ca.location", "ssl.keystore.location"];

    /// <summary>Named and read alike by librdkafka and the Java client.</summary>
    private static readonly HashSet<string> SameName = new(StringComparer.Ordinal)
    {
        "client.dns.lookup", "connections.max.idle.ms", "metadata.max.age.ms", "reconnect.backoff.ms", "reconnect.backoff.max.ms",
        "socket.connection.setup.timeout.ms",
    };

    /// <summary>The librdkafka properties translated below.</summary>
    private static readonly HashSet<string> Translated = new(StringComparer.Ordinal)
    {
        "security.protocol", "sasl.mechanisms", "sasl.mechanism", "sasl.username", "sasl.password", "ssl.ca.location", "ssl.ca.pem",
        "ssl.certificate.location", "ssl.certificate.pem", "ssl.key.location", "ssl.key.pem", "ssl.key.password", "ssl.keystore.location",
        "ssl.keystore.password", "ssl.endpoint.identification.algorithm",
    };

    private JavaKafkaProperties(IReadOnlyList<KeyValuePair<string, string>> properties, IReadOnlyList<KafkaFileMount> mounts, IReadOnlyList<string> secrets)
    {
        Properties = properties;
        Mounts = mounts;
        Secrets = secrets;
    }

    /// <summary>The Java client's properties, in a fixed order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Properties { get; }

    /// <summary>The files the properties name by path, and where the containers see them.</summary>
    public IReadOnlyList<KafkaFileMount> Mounts { get; }

    /// <summary>Every secret value, in librdkafka's form and in Java's (a JAAS config, a private key), longest first.</summary>
    public IReadOnlyList<string> Secrets { get; }

    /// <summary><paramref name="text"/> with every secret as <c>***</c>.</summary>
    public string Mask(string text) => Secrets.Aggregate(text, (masked, secret) => masked.Replace(secret, KafkaClientProperties.Masked, StringComparison.Ordinal));

    /// <summary>
    /// Translates <paramref name="client"/>; <paramref name="kafkaPackage"/> is where the engine's Kafka client classes
    /// are (<see cref="KafkaClientsPackage"/> or <see cref="FlinkSqlConnectorPackage"/>), <paramref name="filesFolder"/>
    /// where its containers see the mounted files, and <paramref name="readFile"/> reads the client certificate and key.
    /// A property the Java client cannot be given is a <see cref="ConfigurationException"/> naming it.
    /// </summary>
    public static JavaKafkaProperties From(KafkaClientProperties client, string kafkaPackage, string filesFolder, Func<string, string> readFile)
    {
        if (client.Count == 0) return None;
        foreach (var name in client.Keys)
            if (!Translated.Contains(name) && !SameName.Contains(name))
                throw new ConfigurationException(
                    $"{client.Source}: the Kafka client property {name} cannot be given to Flink or Spark: their Kafka client is Java's, and the pipeline translates only "
                    + "security.protocol, sasl.*, ssl.* (CA, client certificate, key) and ssl.endpoint.identification.algorithm (docs/engines/flink.md, Secured Kafka). "
                    + "Remove it, or leave Flink and Spark out of the run.");

        var java = new List<KeyValuePair<string, string>>();
        void Add(string name, string value) => java.Add(new(name, value));

        var protocol = client.SecurityProtocol;
        if (protocol is not ("PLAINTEXT" or "SSL" or "SASL_PLAINTEXT" or "SASL_SSL"))
            throw new ConfigurationException($"{client.Source}: security.protocol must be plaintext, ssl, sasl_plaintext or sasl_ssl (got '{client["security.protocol"]}').");
        if (client.ContainsKey("security.protocol")) Add("security.protocol", protocol);

        // librdkafka ignores sasl.* unless the protocol is SASL; so does this translation, for the engines to agree with the .NET clients.
        if (client.SaslMechanism is { } mechanism)
        {
            var module = mechanism switch
            {
                "PLAIN" => "common.security.plain.PlainLoginModule",
                "SCRAM-SHA-256" or "SCRAM-SHA-512" => "common.security.scram.ScramLoginModule",
                _ => throw new ConfigurationException(
                    $"{client.Source}: SASL mechanism {mechanism} cannot be given to Flink or Spark; the pipeline supports PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512."),
            };
            var username = Required(client, "sasl.username", $"SASL {mechanism}");
            var password = Required(client, "sasl.password", $"SASL {mechanism}");
            Add("sasl.mechanism", mechanism);
            Add("sasl.jaas.config", $"{kafkaPackage}.{module} required username=\"{JaasValue(client, "sasl.username", username)}\" password=\"{JaasValue(client, "sasl.password", password)}\";");
        }

        var mounts = FileMounts(client, filesFolder);
        string? MountOf(string name) => client.TryGetValue(name, out var path) ? mounts.Single(m => m.HostPath == path).ContainerPath : null;

        var caLocation = client.TryGetValue("ssl.ca.location", out var ca) && ca != "probe" ? MountOf("ssl.ca.location") : null;
        var caPem = client.TryGetValue("ssl.ca.pem", out var pem) ? pem : null;
        if (caLocation is not null && caPem is not null)
            throw new ConfigurationException($"{client.Source}: give the CA certificates once, as ssl.ca.location or as ssl.ca.pem, not both.");
        // ssl.ca.location=probe asks librdkafka for the system's CAs; Java's default trust store (the JVM's cacerts) is that.
        if (caLocation is not null || caPem is not null) Add("ssl.truststore.type", "PEM");
        if (caLocation is not null) Add("ssl.truststore.location", caLocation);
        if (caPem is not null) Add("ssl.truststore.certificates", caPem);

        var certificate = Content(client, "ssl.certificate.location", "ssl.certificate.pem", readFile);
        var key = Content(client, "ssl.key.location", "ssl.key.pem", readFile);
        if ((certificate is null) != (key is null))
            throw new ConfigurationException($"{client.Source}: a client certificate needs its private key and the key its certificate: give both ssl.certificate.* and ssl.key.*.");
        if (certificate is not null && client.ContainsKey("ssl.keystore.location"))
            throw new ConfigurationException($"{client.Source}: give the client certificate once, as ssl.certificate.* and ssl.key.* or as ssl.keystore.location, not both.");
        if (certificate is not null)
        {
            CheckKey(client, key!);
            Add("ssl.keystore.type", "PEM");
            Add("ssl.keystore.certificate.chain", certificate);
            Add("ssl.keystore.key", key!);
        }
        if (MountOf("ssl.keystore.location") is { } keystore)
        {
            Add("ssl.keystore.type", "PKCS12");
            Add("ssl.keystore.location", keystore);
            Add("ssl.keystore.password", Required(client, "ssl.keystore.password", "A PKCS#12 key store (ssl.keystore.location)"));
        }
        if (client.TryGetValue("ssl.key.password", out var keyPassword)) Add("ssl.key.password", keyPassword);

        if (client.TryGetValue("ssl.endpoint.identification.algorithm", out var algorithm))
            Add("ssl.endpoint.identification.algorithm", algorithm.ToLowerInvariant() switch
            {
                "none" => "",
                "https" => "https",
                _ => throw new ConfigurationException($"{client.Source}: ssl.endpoint.identification.algorithm must be none or https (got '{algorithm}')."),
            });

        foreach (var (name, value) in client)
            if (SameName.Contains(name)) Add(name, value);

        var secrets = client.Concat(java).Where(p => KafkaClientProperties.IsSecret(p.Key) && p.Value.Length > 0).Select(p => p.Value)
            .Distinct().OrderByDescending(s => s.Length).ToList();
        return new JavaKafkaProperties(java, mounts, secrets);
    }

    /// <summary>
    /// The files a Java client reads by path (the CA certificates, a PKCS#12 key store), each at
    /// <c>&lt;folder&gt;/&lt;file name&gt;</c>; a second file of the same name gets a number in front (<c>2-ca.pem</c>).
    /// </summary>
    public static IReadOnlyList<KafkaFileMount> FileMounts(KafkaClientProperties client, string filesFolder)
    {
        var mounts = new List<KafkaFileMount>();
        foreach (var name in MountedFiles)
        {
            if (!client.TryGetValue(name, out var path) || path == "probe" || mounts.Any(m => m.HostPath == path)) continue;
            var file = Path.GetFileName(path);
            var container = $"{filesFolder.TrimEnd('/')}/{file}";
            for (var n = 2; mounts.Any(m => m.ContainerPath == container); n++) container = $"{filesFolder.TrimEnd('/')}/{n}-{file}";
            mounts.Add(new KafkaFileMount(path, container));
        }
        return mounts;
    }

    private static string Required(KafkaClientProperties client, string name, string what) =>
        client.TryGetValue(name, out var value) && value.Length > 0 ? value : throw new ConfigurationException($"{client.Source}: {what} needs {name}.");

    /// <summary>
    /// A value in double quotes in a JAAS config: Kafka's parser (a StreamTokenizer) reads backslash escapes in quoted
    /// strings, so a backslash and a quote are escaped, and ends a quoted string at a line break, which is refused.
    /// </summary>
    private static string JaasValue(KafkaClientProperties client, string name, string value)
    {
        if (value.Contains('\n') || value.Contains('\r'))
            throw new ConfigurationException($"{client.Source}: {name} contains a line break, which a Java JAAS config cannot hold.");
        return value.Replace("\\", "\\\\").Replace("\"", "\\\"");
    }

    /// <summary>A PEM text given by file (<paramref name="location"/>) or inline (<paramref name="inline"/>), or null.</summary>
    private static string? Content(KafkaClientProperties client, string location, string inline, Func<string, string> readFile)
    {
        var hasFile = client.TryGetValue(location, out var path);
        var hasText = client.TryGetValue(inline, out var text);
        if (hasFile && hasText) throw new ConfigurationException($"{client.Source}: give {location} or {inline}, not both.");
        if (!hasFile) return hasText ? text : null;
        try
        {
            return readFile(path!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"{client.Source}: {location} {path} cannot be read: {e.Message}");
        }
    }

    /// <summary>
    /// Java's PEM key store reads PKCS#8 keys only (BEGIN PRIVATE KEY, or BEGIN ENCRYPTED PRIVATE KEY with
    /// ssl.key.password), where librdkafka also reads OpenSSL's older RSA and EC forms: those are refused here with the
    /// conversion, rather than by the engine's Kafka client once the job runs. The key itself is never shown.
    /// </summary>
    private static void CheckKey(KafkaClientProperties client, string key)
    {
        var encrypted = key.Contains("-----BEGIN ENCRYPTED PRIVATE KEY-----", StringComparison.Ordinal);
        if (!encrypted && !key.Contains("-----BEGIN PRIVATE KEY-----", StringComparison.Ordinal))
            throw new ConfigurationException(
                $"{client.Source}: the client key (ssl.key.*) is not a PKCS#8 PEM key (BEGIN PRIVATE KEY), the only form Java's PEM key store reads; "
                + "convert it with: openssl pkcs8 -topk8 -nocrypt -in client.key -out client.pkcs8.key");
        if (encrypted != client.ContainsKey("ssl.key.password"))
            throw new ConfigurationException(encrypted
                ? $"{client.Source}: the client key is encrypted (BEGIN ENCRYPTED PRIVATE KEY): give its password as ssl.key.password."
                : $"{client.Source}: ssl.key.password is given but the client key is not encrypted; remove ssl.key.password.");
    }
}
