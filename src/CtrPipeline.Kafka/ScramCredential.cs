using System.Security.Cryptography;
using System.Text;

namespace CtrPipeline.Kafka;

/// <summary>What a SCRAM server stores of a password (RFC 5802 section 3).</summary>
internal sealed record ScramCredential(HashAlgorithmName Hash, byte[] Salt, byte[] StoredKey, byte[] ServerKey)
{
    public static ScramCredential Derive(HashAlgorithmName hash, string password)
    {
        var salt = RandomNumberGenerator.GetBytes(32);
        var salted = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, SaslCredentials.ScramIterations, hash, HashSize(hash));
        var clientKey = Hmac(hash, salted, "Client Key"u8);
        return new(hash, salt, HashData(hash, clientKey), Hmac(hash, salted, "Server Key"u8));
    }

    private static int HashSize(HashAlgorithmName hash) => hash == HashAlgorithmName.SHA512 ? 64 : 32;

    public static byte[] Hmac(HashAlgorithmName hash, byte[] key, ReadOnlySpan<byte> data) =>
        hash == HashAlgorithmName.SHA512 ? HMACSHA512.HashData(key, data) : HMACSHA256.HashData(key, data);

    public static byte[] HashData(HashAlgorithmName hash, ReadOnlySpan<byte> data) =>
        hash == HashAlgorithmName.SHA512 ? SHA512.HashData(data) : SHA256.HashData(data);
}
