using System.Security.Cryptography;
using System.Text;

namespace CtrPipeline.Kafka;

/// <summary>
/// A listener's SASL users, kept as a SCRAM server keeps them (RFC 5802: salt, StoredKey, ServerKey per mechanism,
/// salts random per user and mechanism, drawn once) and, for PLAIN, as a SHA-256 of the password.
/// </summary>
internal sealed class SaslCredentials
{
    internal const int ScramIterations = 4096;

    private readonly Dictionary<string, byte[]> _plain = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Mechanism, string User), ScramCredential> _scram = [];

    public SaslCredentials(IReadOnlyDictionary<string, string> users, IReadOnlyList<string> mechanisms)
    {
        UserCount = users.Count;
        foreach (var (user, password) in users)
            foreach (var mechanism in mechanisms)
            {
                if (mechanism == "PLAIN") _plain[user] = SHA256.HashData(Encoding.UTF8.GetBytes(password));
                else _scram[(mechanism, user)] = ScramCredential.Derive(ScramHash(mechanism), password);
            }
    }

    public int UserCount { get; }

    public bool IsPlainPasswordValid(string user, string password) =>
        _plain.TryGetValue(user, out var expected) &&
        CryptographicOperations.FixedTimeEquals(expected, SHA256.HashData(Encoding.UTF8.GetBytes(password)));

    public ScramCredential? Scram(string mechanism, string user) => _scram.GetValueOrDefault((mechanism, user));

    private static HashAlgorithmName ScramHash(string mechanism) =>
        mechanism == "SCRAM-SHA-512" ? HashAlgorithmName.SHA512 : HashAlgorithmName.SHA256;
}
