using System.Security.Cryptography;
using System.Text;

namespace CtrPipeline.Kafka;

/// <summary>
/// The server side of one connection's SASL exchange, token by token (the SaslAuthenticate requests' auth_bytes):
/// PLAIN in one round (RFC 4616: authzid \0 user \0 password), SCRAM-SHA-256/512 in two (RFC 5802, RFC 7677:
/// client-first, server-first; client-final with the proof, server-final with the server's signature).
/// </summary>
internal sealed class SaslExchange(SaslCredentials credentials, string mechanism)
{
    private string? _user;
    private ScramCredential? _scram;
    private string? _gs2Header, _clientFirstBare, _serverFirst, _nonce;

    /// <summary>The user, once authenticated.</summary>
    public string? AuthenticatedUser { get; private set; }

    public string FailureMessage => $"Authentication failed: invalid user name or password ({mechanism})";

    /// <summary>The server's answer to the client's token; null: authentication failed (or the token is malformed).</summary>
    public byte[]? Step(ReadOnlySpan<byte> token)
    {
        if (AuthenticatedUser is not null) return null;
        string text;
        try { text = new UTF8Encoding(false, true).GetString(token); }
        catch (DecoderFallbackException) { return null; }
        if (mechanism == "PLAIN") return Plain(text);
        return _serverFirst is null ? ScramFirst(text) : ScramFinal(text);
    }

    private byte[]? Plain(string token)
    {
        var parts = token.Split('\0');
        // An authorization id other than the user itself is not granted, as in Kafka.
        if (parts.Length != 3 || parts[0].Length > 0 && parts[0] != parts[1]) return null;
        if (!credentials.IsPlainPasswordValid(parts[1], parts[2])) return null;
        AuthenticatedUser = parts[1];
        return [];
    }

    /// <summary>client-first: gs2 header ("n,," or "y,,", optionally with a=authzid), then n=user,r=nonce.</summary>
    private byte[]? ScramFirst(string clientFirst)
    {
        if (!clientFirst.StartsWith("n,", StringComparison.Ordinal) && !clientFirst.StartsWith("y,", StringComparison.Ordinal)) return null;
        var headerEnd = clientFirst.IndexOf(',', 2);
        if (headerEnd < 0) return null;
        _gs2Header = clientFirst[..(headerEnd + 1)];
        _clientFirstBare = clientFirst[(headerEnd + 1)..];
        var attributes = Attributes(_clientFirstBare);
        if (!attributes.TryGetValue('n', out var name) || !attributes.TryGetValue('r', out var clientNonce) || clientNonce.Length == 0) return null;
        _user = name.Replace("=2C", ",").Replace("=3D", "=");
        _scram = credentials.Scram(mechanism, _user);
        if (_scram is null) return null;
        _nonce = clientNonce + Convert.ToBase64String(RandomNumberGenerator.GetBytes(18));
        _serverFirst = $"r={_nonce},s={Convert.ToBase64String(_scram.Salt)},i={SaslCredentials.ScramIterations}";
        return Encoding.UTF8.GetBytes(_serverFirst);
    }

    /// <summary>client-final: c=base64(gs2 header),r=nonce,p=base64(ClientKey XOR ClientSignature).</summary>
    private byte[]? ScramFinal(string clientFinal)
    {
        var proofAt = clientFinal.LastIndexOf(",p=", StringComparison.Ordinal);
        if (proofAt < 0) return null;
        var withoutProof = clientFinal[..proofAt];
        var attributes = Attributes(withoutProof);
        if (attributes.GetValueOrDefault('c') != Convert.ToBase64String(Encoding.UTF8.GetBytes(_gs2Header!)) ||
            attributes.GetValueOrDefault('r') != _nonce) return null;
        byte[] proof;
        try { proof = Convert.FromBase64String(clientFinal[(proofAt + 3)..]); }
        catch (FormatException) { return null; }
        var scram = _scram!;
        if (proof.Length != scram.StoredKey.Length) return null;

        var authMessage = Encoding.UTF8.GetBytes($"{_clientFirstBare},{_serverFirst},{withoutProof}");
        var clientSignature = ScramCredential.Hmac(scram.Hash, scram.StoredKey, authMessage);
        for (var i = 0; i < proof.Length; i++) proof[i] ^= clientSignature[i]; // now the client's ClientKey
        if (!CryptographicOperations.FixedTimeEquals(ScramCredential.HashData(scram.Hash, proof), scram.StoredKey)) return null;
        AuthenticatedUser = _user;
        return Encoding.UTF8.GetBytes("v=" + Convert.ToBase64String(ScramCredential.Hmac(scram.Hash, scram.ServerKey, authMessage)));
    }

    /// <summary>A SCRAM message's attributes (a=value, comma separated); the first of each letter.</summary>
    private static Dictionary<char, string> Attributes(string message)
    {
        var attributes = new Dictionary<char, string>();
        foreach (var part in message.Split(','))
            if (part.Length >= 2 && part[1] == '=') attributes.TryAdd(part[0], part[2..]);
        return attributes;
    }
}
