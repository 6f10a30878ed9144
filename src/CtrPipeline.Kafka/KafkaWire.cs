using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Confluent.Kafka;

namespace CtrPipeline.Kafka;

/// <summary>One topic of a CreateTopics request, as a broker receives it.</summary>
/// <param name="NumPartitions">-1: the broker's default.</param>
/// <param name="ReplicationFactor">-1: the broker's default.</param>
/// <param name="ManualAssignments">How many partitions the request places on brokers itself.</param>
public sealed record TopicCreation(
    string Name, int NumPartitions, short ReplicationFactor, int ManualAssignments,
    IReadOnlyList<KeyValuePair<string, string?>> Configs, bool ValidateOnly);

/// <summary>Creates a topic (or only checks that it could, <see cref="TopicCreation.ValidateOnly"/>) and answers as a Kafka broker would.</summary>
public delegate (ErrorCode Code, string? Message) TopicCreator(TopicCreation topic);

/// <summary>
/// The few Kafka wire formats <see cref="BrokerProxy"/> reads or writes itself, checked against Apache Kafka's message
/// definitions (clients/src/main/resources/common/message/*.json): request header v1/v2, Produce's acks,
/// ApiVersions v0-2 responses, CreateTopics v0-4, SaslHandshake v0-1 and SaslAuthenticate v0-1.
/// </summary>
internal static class KafkaWire
{
    internal const short ProduceKey = 0;
    internal const short ApiVersionsKey = 18;
    internal const short CreateTopicsKey = 19;
    internal const short SaslHandshakeKey = 17;
    internal const short SaslAuthenticateKey = 36;

    /// <summary>Produce is flexible (request header v2, compact strings) from v9 on.</summary>
    private const short ProduceFirstFlexible = 9;

    /// <summary>CreateTopics v5 is the first flexible version; 0-4 share one layout apart from additions.</summary>
    internal const short CreateTopicsMaxVersion = 4;

    /// <summary>
    /// The acks of a Produce request (<paramref name="request"/>: the frame without its size, possibly only its
    /// start). False when the bytes end before acks.
    /// </summary>
    internal static bool TryReadProduceAcks(ReadOnlySpan<byte> request, out short acks)
    {
        acks = 0;
        var r = new Reader(request);
        if (!r.TrySkip(2) || !r.TryInt16(out var version) || !r.TrySkip(4)) return false;
        if (!r.TryInt16(out var clientId) || !r.TrySkip(Math.Max(0, (int)clientId))) return false;
        var flexible = version >= ProduceFirstFlexible;
        if (flexible && !r.TrySkipTaggedFields()) return false;
        if (version >= 3)
        {
            // transactional_id: a nullable string, compact (length + 1, 0 = null) in flexible versions.
            if (flexible)
            {
                if (!r.TryUVarInt(out var lengthPlusOne) || !r.TrySkip(Math.Max(0, (int)lengthPlusOne - 1))) return false;
            }
            else if (!r.TryInt16(out var length) || !r.TrySkip(Math.Max(0, (int)length))) return false;
        }
        return r.TryInt16(out acks);
    }

    /// <summary>
    /// An ApiVersions v0-2 response frame (with its size) with more entries (ApiKey, min, max), those it does not name
    /// already; null when it is an error, names them all, or is not laid out as expected (then it is passed on unchanged).
    /// </summary>
    internal static byte[]? AddApiVersions(ReadOnlySpan<byte> frame, short responseVersion, IReadOnlyList<(short ApiKey, short Min, short Max)> entries)
    {
        // size, correlation_id, error_code, [api_key, min, max] (int32 count), throttle_time_ms (v1+)
        if (frame.Length < 14 || BinaryPrimitives.ReadInt16BigEndian(frame[8..]) != 0) return null;
        var count = BinaryPrimitives.ReadInt32BigEndian(frame[10..]);
        var entriesEnd = 14 + 6L * count;
        if (count < 0 || entriesEnd + (responseVersion >= 1 ? 4 : 0) != frame.Length) return null;
        var named = new HashSet<short>();
        for (var i = 14; i < entriesEnd; i += 6) named.Add(BinaryPrimitives.ReadInt16BigEndian(frame[i..]));
        var added = entries.Where(e => !named.Contains(e.ApiKey)).ToList();
        if (added.Count == 0) return null;
        var end = (int)entriesEnd;
        var rewritten = new byte[frame.Length + 6 * added.Count];
        frame[..end].CopyTo(rewritten);
        frame[end..].CopyTo(rewritten.AsSpan(end + 6 * added.Count));
        var span = rewritten.AsSpan();
        BinaryPrimitives.WriteInt32BigEndian(span, rewritten.Length - 4);
        BinaryPrimitives.WriteInt32BigEndian(span[10..], count + added.Count);
        foreach (var (apiKey, min, max) in added)
        {
            BinaryPrimitives.WriteInt16BigEndian(span[end..], apiKey);
            BinaryPrimitives.WriteInt16BigEndian(span[(end + 2)..], min);
            BinaryPrimitives.WriteInt16BigEndian(span[(end + 4)..], max);
            end += 6;
        }
        return rewritten;
    }

    /// <summary>
    /// A request's header (v1: ApiKey, version, correlation id, client id; <paramref name="request"/> is the frame
    /// without its size) and where its body starts. The SASL requests this proxy answers all use header v1.
    /// </summary>
    internal static (short ApiKey, short Version, int CorrelationId, int BodyOffset) ReadRequestHeader(ReadOnlySpan<byte> request)
    {
        var r = new Reader(request);
        var apiKey = r.Int16();
        var version = r.Int16();
        var correlationId = r.Int32();
        r.Skip(Math.Max(0, (int)r.Int16())); // client_id
        return (apiKey, version, correlationId, r.Position);
    }

    /// <summary>SaslHandshake v0-1 request body: the mechanism.</summary>
    internal static string ReadSaslHandshake(ReadOnlySpan<byte> body) => new Reader(body).String() ?? "";

    /// <summary>SaslHandshake v0-1 response: error_code, [mechanisms].</summary>
    internal static byte[] SaslHandshakeResponse(int correlationId, ErrorCode error, IReadOnlyList<string> mechanisms)
    {
        var w = ResponseWriter(correlationId);
        WriteInt16(w, (short)error);
        WriteInt32(w, mechanisms.Count);
        foreach (var mechanism in mechanisms) WriteString(w, mechanism);
        return Frame(w);
    }

    /// <summary>SaslAuthenticate v0-1 request body: auth_bytes.</summary>
    internal static byte[] ReadSaslAuthenticate(ReadOnlySpan<byte> body) => new Reader(body).Bytes();

    /// <summary>
    /// SaslAuthenticate v0-1 response: error_code, error_message, auth_bytes, and from v1 session_lifetime_ms (0: the
    /// session does not expire, so the client never re-authenticates).
    /// </summary>
    internal static byte[] SaslAuthenticateResponse(short version, int correlationId, ErrorCode error, string? message, byte[] authBytes)
    {
        var w = ResponseWriter(correlationId);
        WriteInt16(w, (short)error);
        WriteString(w, message);
        WriteInt32(w, authBytes.Length);
        w.Write(authBytes);
        if (version >= 1)
        {
            BinaryPrimitives.WriteInt64BigEndian(w.GetSpan(8), 0);
            w.Advance(8);
        }
        return Frame(w);
    }

    /// <summary>
    /// Answers a CreateTopics v0-4 request (the frame without its size) with the response frame (with its size).
    /// Each distinct topic name gets one result; a name given twice is refused, as Kafka does.
    /// </summary>
    /// <exception cref="InvalidDataException">The request is malformed.</exception>
    internal static byte[] AnswerCreateTopics(ReadOnlySpan<byte> request, TopicCreator create)
    {
        var r = new Reader(request);
        r.Skip(2);
        var version = r.Int16();
        var correlationId = r.Int32();
        r.Skip(Math.Max(0, (int)r.Int16())); // client_id
        var topics = new List<TopicCreation>();
        var count = r.Int32();
        for (var i = 0; i < count; i++)
        {
            var name = r.String() ?? throw new InvalidDataException("CreateTopics: a topic without a name");
            var partitions = r.Int32();
            var replication = r.Int16();
            var assignments = Math.Max(0, r.Int32());
            for (var a = 0; a < assignments; a++)
            {
                r.Skip(4); // partition_index
                r.Skip(4 * Math.Max(0, r.Int32())); // broker_ids
            }
            var configCount = Math.Max(0, r.Int32());
            var configs = new List<KeyValuePair<string, string?>>(configCount);
            for (var c = 0; c < configCount; c++)
                configs.Add(new(r.String() ?? "", r.String()));
            topics.Add(new TopicCreation(name, partitions, replication, assignments, configs, ValidateOnly: false));
        }
        r.Skip(4); // timeout_ms: creation here is immediate
        var validateOnly = version >= 1 && r.Byte() != 0;

        var results = new List<(string Name, ErrorCode Code, string? Message)>();
        foreach (var group in topics.GroupBy(t => t.Name, StringComparer.Ordinal))
        {
            results.Add(group.Count() > 1
                ? (group.Key, ErrorCode.InvalidRequest, $"Create topics request contains multiple entries for the topic {group.Key}.")
                : Result(group.Key, create(group.First() with { ValidateOnly = validateOnly })));
        }
        return CreateTopicsResponse(version, correlationId, results);

        static (string, ErrorCode, string?) Result(string name, (ErrorCode Code, string? Message) result) => (name, result.Code, result.Message);
    }

    /// <summary>CreateTopics response v0-4: [throttle_time_ms (v2+)], [name, error_code, error_message (v1+)].</summary>
    internal static byte[] CreateTopicsResponse(short version, int correlationId, IReadOnlyList<(string Name, ErrorCode Code, string? Message)> results)
    {
        var w = ResponseWriter(correlationId);
        if (version >= 2) WriteInt32(w, 0);
        WriteInt32(w, results.Count);
        foreach (var (name, code, message) in results)
        {
            WriteString(w, name);
            WriteInt16(w, (short)code);
            if (version >= 1) WriteString(w, message);
        }
        return Frame(w);
    }

    /// <summary>A response frame's start: its size (set by <see cref="Frame"/>) and response header v0, the correlation id.</summary>
    private static ArrayBufferWriter<byte> ResponseWriter(int correlationId)
    {
        var w = new ArrayBufferWriter<byte>(256);
        WriteInt32(w, 0);
        WriteInt32(w, correlationId);
        return w;
    }

    private static byte[] Frame(ArrayBufferWriter<byte> w)
    {
        var frame = w.WrittenSpan.ToArray();
        BinaryPrimitives.WriteInt32BigEndian(frame, frame.Length - 4);
        return frame;
    }

    private static void WriteInt16(ArrayBufferWriter<byte> w, short value)
    {
        BinaryPrimitives.WriteInt16BigEndian(w.GetSpan(2), value);
        w.Advance(2);
    }

    private static void WriteInt32(ArrayBufferWriter<byte> w, int value)
    {
        BinaryPrimitives.WriteInt32BigEndian(w.GetSpan(4), value);
        w.Advance(4);
    }

    /// <summary>A nullable string: int16 length (-1: null), UTF-8.</summary>
    private static void WriteString(ArrayBufferWriter<byte> w, string? value)
    {
        if (value is null)
        {
            WriteInt16(w, -1);
            return;
        }
        var length = Math.Min(Encoding.UTF8.GetByteCount(value), short.MaxValue);
        WriteInt16(w, (short)length);
        var bytes = Encoding.UTF8.GetBytes(value);
        bytes.AsSpan(0, length).CopyTo(w.GetSpan(length));
        w.Advance(length);
    }

    /// <summary>Big-endian reads over a request; the Try methods report running out, the others throw.</summary>
    private ref struct Reader(ReadOnlySpan<byte> bytes)
    {
        private readonly ReadOnlySpan<byte> _bytes = bytes;
        private int _position;

        public readonly int Position => _position;

        public bool TrySkip(int count)
        {
            if (count > _bytes.Length - _position) return false;
            _position += count;
            return true;
        }

        public bool TryInt16(out short value)
        {
            value = 0;
            if (_bytes.Length - _position < 2) return false;
            value = BinaryPrimitives.ReadInt16BigEndian(_bytes[_position..]);
            _position += 2;
            return true;
        }

        /// <summary>An unsigned varint (protobuf style, 7 bits a byte, at most 5 bytes).</summary>
        public bool TryUVarInt(out uint value)
        {
            value = 0;
            for (var shift = 0; shift < 35; shift += 7)
            {
                if (_position >= _bytes.Length) return false;
                var b = _bytes[_position++];
                value |= (uint)(b & 0x7f) << shift;
                if ((b & 0x80) == 0) return true;
            }
            return false;
        }

        /// <summary>A tagged-fields section: count, then per field its tag, size and bytes.</summary>
        public bool TrySkipTaggedFields()
        {
            if (!TryUVarInt(out var count)) return false;
            for (var i = 0u; i < count; i++)
                if (!TryUVarInt(out _) || !TryUVarInt(out var size) || size > int.MaxValue || !TrySkip((int)size)) return false;
            return true;
        }

        public void Skip(int count)
        {
            if (!TrySkip(count)) throw Truncated();
        }

        public byte Byte()
        {
            if (_position >= _bytes.Length) throw Truncated();
            return _bytes[_position++];
        }

        public short Int16() => TryInt16(out var value) ? value : throw Truncated();

        public int Int32()
        {
            if (_bytes.Length - _position < 4) throw Truncated();
            var value = BinaryPrimitives.ReadInt32BigEndian(_bytes[_position..]);
            _position += 4;
            return value;
        }

        /// <summary>A nullable string: int16 length (-1: null), UTF-8.</summary>
        public string? String()
        {
            var length = Int16();
            if (length < 0) return null;
            if (length > _bytes.Length - _position) throw Truncated();
            var value = Encoding.UTF8.GetString(_bytes.Slice(_position, length));
            _position += length;
            return value;
        }

        /// <summary>Bytes: int32 length, then the bytes.</summary>
        public byte[] Bytes()
        {
            var length = Int32();
            if (length < 0 || length > _bytes.Length - _position) throw Truncated();
            var value = _bytes.Slice(_position, length).ToArray();
            _position += length;
            return value;
        }

        private static InvalidDataException Truncated() => new("The request ends before its last field.");
    }
}
