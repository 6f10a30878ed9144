using Confluent.Kafka;
using CtrPipeline.Contracts;

namespace CtrPipeline.Kafka;

/// <summary>
/// The cluster refused the client: authentication failed, the TLS handshake failed, or the user lacks a permission.
/// Unlike an unreachable broker, which every component rides out, retrying cannot mend it, so it ends the process as a
/// configuration error does (one line, exit 2). The message names the cluster and the cause, never a secret.
/// </summary>
public sealed class KafkaRefusedException(string message) : ConfigurationException(message)
{
    /// <summary>The refusal <paramref name="error"/> stands for, or null when it is one to ride out (a broker away, a timeout).</summary>
    public static KafkaRefusedException? From(Error error, KafkaConnection kafka)
    {
        var reason = kafka.Properties.Mask(error.Reason);
        return error.Code switch
        {
            ErrorCode.Local_Authentication or ErrorCode.SaslAuthenticationFailed or ErrorCode.UnsupportedSaslMechanism or ErrorCode.IllegalSaslState =>
                new($"Kafka {kafka.BootstrapServers} refused authentication (SASL/{kafka.Properties.SaslMechanism ?? "none"}: {reason})"),
            ErrorCode.Local_Ssl =>
                new($"Kafka {kafka.BootstrapServers}: the TLS handshake failed ({reason}). Check ssl.ca.location and, for mutual TLS, ssl.certificate.location and ssl.key.location."),
            ErrorCode.TopicAuthorizationFailed or ErrorCode.GroupAuthorizationFailed or ErrorCode.ClusterAuthorizationFailed
                or ErrorCode.TransactionalIdAuthorizationFailed =>
                new($"Kafka {kafka.BootstrapServers} refused access ({reason}): the user lacks a permission (ACL) the pipeline needs."),
            _ => null,
        };
    }
}
