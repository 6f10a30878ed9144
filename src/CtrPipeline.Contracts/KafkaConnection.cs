using System.Collections;
using System.Text;

namespace CtrPipeline.Contracts;

/// <summary>
/// A Kafka cluster and how to talk to it: its bootstrap servers and the client properties (security.protocol, sasl.*,
/// ssl.*) that every producer, consumer and admin client of a run adds to its own settings.
/// </summary>
public sealed record KafkaConnection(string BootstrapServers, KafkaClientProperties Properties)
{
    /// <summary>A PLAINTEXT cluster: bootstrap servers and nothing else.</summary>
    public KafkaConnection(string bootstrapServers) : this(bootstrapServers, KafkaClientProperties.None) { }

    /// <summary>The servers and the properties with every secret as <c>***</c>: what a log line or report may show.</summary>
    public override string ToString() => Properties.Count == 0 ? BootstrapServers : $"{BootstrapServers} ({Properties})";
}

/// <summary>
/// Client properties in librdkafka's names, as kcat -F reads them: one <c>name=value</c> per line, <c>#</c> or <c>!</c>
/// starts a comment. The pipeline's own settings (group ids, commits, isolation, transactions) are refused here, since
/// correctness depends on them; bootstrap.servers is kept apart (<see cref="BootstrapServers"/>), so a file downloaded
/// from a managed service can be given as it is. Secrets (passwords, private keys) are never shown: <see cref="ToString"/>
/// and <see cref="Mask"/> print <c>***</c> in their place.
/// </summary>
public sealed class KafkaClientProperties : IReadOnlyDictionary<string, string>
{
    /// <summary>What a masked secret reads.</summary>
    public const string Masked = "***";

    /// <summary>Properties the pipeline sets itself on each client, for reasons of correctness (docs/configuration.md).</summary>
    public static readonly IReadOnlySet<string> Owned = new HashSet<string>(StringComparer.Ordinal)
    {
        "group.id", "client.id", "transactional.id", "enable.auto.commit", "enable.auto.offset.store", "isolation.level",
        "auto.offset.reset", "enable.idempotence", "group.instance.id",
    };

    public static readonly KafkaClientProperties None = new([], null, "no client properties");

    private readonly IReadOnlyDictionary<string, string> _properties;
    private readonly List<string> _order;

    private KafkaClientProperties(KafkaClientProperties properties, string source) : this(properties, properties.BootstrapServers, source) { }

    private KafkaClientProperties(IEnumerable<KeyValuePair<string, string>> properties, string? bootstrapServers, string source)
    {
        var ordered = new Dictionary<string, string>(StringComparer.Ordinal);
        _order = [];
        foreach (var (name, value) in properties)
        {
            if (!ordered.ContainsKey(name)) _order.Add(name);
            ordered[name] = value;
        }
        _properties = ordered;
        BootstrapServers = bootstrapServers;
        Source = source;
    }

    /// <summary>bootstrap.servers (or metadata.broker.list) if the properties named them.</summary>
    public string? BootstrapServers { get; }

    /// <summary>Where the properties came from (a file's path, or the configuration), for error messages.</summary>
    public string Source { get; }

    /// <summary>The file they were read from (<see cref="Load"/>), which a service given the same cluster reads too.</summary>
    public string? File { get; private init; }

    /// <summary>Whether <paramref name="name"/> holds a secret: a password, a private key, an OAuth client secret or a JAAS config.</summary>
    public static bool IsSecret(string name) =>
        name.Contains("password", StringComparison.OrdinalIgnoreCase)
        || name.Contains("secret", StringComparison.OrdinalIgnoreCase)
        || name.EndsWith("key.pem", StringComparison.OrdinalIgnoreCase)
        || name.Equals("ssl.keystore.key", StringComparison.OrdinalIgnoreCase)
        || name.Contains("jaas", StringComparison.OrdinalIgnoreCase)
        || name.Equals("sasl.oauthbearer.config", StringComparison.OrdinalIgnoreCase);

    /// <summary>Reads a properties file; a missing file or a bad line is a <see cref="ConfigurationException"/> naming the file and line.</summary>
    public static KafkaClientProperties Load(string path)
    {
        if (!System.IO.File.Exists(path))
            throw new ConfigurationException($"The Kafka client properties file {path} does not exist.");
        return new KafkaClientProperties(Parse(System.IO.File.ReadAllText(path), path), path) { File = Path.GetFullPath(path) };
    }

    /// <summary>Parses <c>name=value</c> lines (kcat -F's format); <paramref name="source"/> names them in errors.</summary>
    public static KafkaClientProperties Parse(string text, string source)
    {
        var properties = new List<KeyValuePair<string, string>>();
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or '!') continue;
            var equals = line.IndexOf('=');
            if (equals <= 0)
                throw new ConfigurationException($"{source}, line {number}: expected name=value, as in security.protocol=SASL_SSL.");
            properties.Add(new(line[..equals].Trim(), line[(equals + 1)..].Trim()));
        }
        return From(properties, source);
    }

    /// <summary>Properties from name/value pairs (a configuration section, say); the pipeline's own are refused.</summary>
    public static KafkaClientProperties From(IEnumerable<KeyValuePair<string, string>> properties, string source)
    {
        string? bootstrap = null;
        var kept = new List<KeyValuePair<string, string>>();
        foreach (var (name, value) in properties)
        {
            if (name.Length == 0 || name.Any(char.IsWhiteSpace))
                throw new ConfigurationException($"{source}: '{name}' is not a Kafka client property name.");
            if (Owned.Contains(name))
                throw new ConfigurationException(
                    $"{source}: {name} is set by the pipeline itself on every client (docs/configuration.md); remove it from the client properties.");
            if (name is "bootstrap.servers" or "metadata.broker.list")
            {
                if (bootstrap is not null && bootstrap != value)
                    throw new ConfigurationException($"{source}: bootstrap.servers is given twice, as {bootstrap} and {value}.");
                bootstrap = value;
                continue;
            }
            kept.Add(new(name, value));
        }
        return new KafkaClientProperties(kept, bootstrap, source);
    }

    /// <summary>These properties with <paramref name="overrides"/> set over them (a secret parameter over a file's value).</summary>
    public KafkaClientProperties With(IEnumerable<KeyValuePair<string, string>> overrides, string source)
    {
        var extra = From(overrides, source);
        if (BootstrapServers is not null && extra.BootstrapServers is not null && BootstrapServers != extra.BootstrapServers)
            throw new ConfigurationException($"{source}: bootstrap.servers {extra.BootstrapServers} differs from {BootstrapServers} in {Source}.");
        var both = Count == 0 ? extra.Source : extra.Count == 0 ? Source : $"{Source} and {extra.Source}";
        return new KafkaClientProperties(this.Concat(extra), BootstrapServers ?? extra.BootstrapServers, both) { File = File };
    }

    /// <summary>The security protocol, upper case (PLAINTEXT when the properties do not say).</summary>
    public string SecurityProtocol => TryGetValue("security.protocol", out var protocol) ? protocol.ToUpperInvariant() : "PLAINTEXT";

    /// <summary>The SASL mechanism (sasl.mechanisms, or its alias sasl.mechanism), upper case, when SASL is used.</summary>
    public string? SaslMechanism =>
        !SecurityProtocol.StartsWith("SASL", StringComparison.Ordinal) ? null
        : TryGetValue("sasl.mechanisms", out var m) || TryGetValue("sasl.mechanism", out m) ? m.ToUpperInvariant() : "GSSAPI";

    /// <summary>
    /// The files the properties point to (ssl.ca.location, ssl.certificate.location, ...), which a container must see;
    /// not ssl.ca.location=probe, librdkafka's word for the system's own CA certificates.
    /// </summary>
    public IEnumerable<KeyValuePair<string, string>> Files =>
        this.Where(p => p.Key.EndsWith(".location", StringComparison.Ordinal) && !(p.Key == "ssl.ca.location" && p.Value == "probe"));

    /// <summary><paramref name="text"/> with every secret value replaced by <c>***</c>: for a log line or message that may hold one.</summary>
    public string Mask(string text)
    {
        foreach (var (name, value) in this)
            if (IsSecret(name) && value.Length > 0)
                text = text.Replace(value, Masked, StringComparison.Ordinal);
        return text;
    }

    /// <summary>name=value, comma separated, every secret as <c>***</c>.</summary>
    public override string ToString()
    {
        if (Count == 0) return "PLAINTEXT";
        var text = new StringBuilder();
        foreach (var (name, value) in this)
            text.Append(text.Length == 0 ? "" : ", ").Append(name).Append('=').Append(IsSecret(name) ? Masked : value);
        return text.ToString();
    }

    public string this[string key] => _properties[key];
    public IEnumerable<string> Keys => _order;
    public IEnumerable<string> Values => _order.Select(k => _properties[k]);
    public int Count => _order.Count;
    public bool ContainsKey(string key) => _properties.ContainsKey(key);
    public bool TryGetValue(string key, out string value) => _properties.TryGetValue(key, out value!);
    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => _order.Select(k => KeyValuePair.Create(k, _properties[k])).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
