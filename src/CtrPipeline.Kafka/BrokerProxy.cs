using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Confluent.Kafka;

namespace CtrPipeline.Kafka;

/// <summary>
/// A TCP proxy in front of one broker of the embedded cluster, on 127.0.0.1:<c>port</c> (0: any free port). It gives
/// the cluster a fixed bootstrap address, and, with the broker advertising the proxy's address
/// (<see cref="EmbeddedKafkaCluster.Advertise"/>), every connection of every client passes through one.
/// <para>
/// It reads the Kafka frames (4-byte size, then the body) both ways and passes them on unchanged, except where
/// librdkafka's mock falls short of a Kafka broker:
/// an ApiVersions request newer than v2 (the Java client's v3 or v4), which the mock answers in a layout that is
/// neither v0 nor v3 (the Java client reads it as a 20-minute throttle), is answered here as Kafka does (KIP-511: a
/// v0-layout UNSUPPORTED_VERSION response naming ApiVersions 0-2), and the client asks again with v2;
/// and, given a <see cref="TopicCreator"/>, CreateTopics v0-4, which the mock lacks, is answered here and added to the
/// mock's ApiVersions responses. See docs/embedded-broker.md.
/// </para>
/// <para>
/// Given a <see cref="ListenerSecurity"/>, it requires of its clients what a secured Kafka listener does: a TLS
/// handshake (with a client certificate when asked), then SASL authentication (SaslHandshake v1, SaslAuthenticate
/// v0-1, KIP-43 and KIP-152) before anything reaches the mock but ApiVersions.
/// </para>
/// <para>
/// Responses leave in request order, as clients require: each connection queues one entry per request, and an answer
/// made here waits until every earlier response is written. A Produce with acks=0 gets no response from Kafka; the
/// mock sends one anyway, which the proxy drops.
/// Frames are streamed through pooled buffers, never held whole, except the small ones answered or rewritten here.
/// </para>
/// </summary>
public sealed class BrokerProxy : IAsyncDisposable
{
    /// <summary>Kafka's ApiKey of ApiVersions, and the newest version librdkafka's mock answers correctly.</summary>
    internal const short ApiVersionsKey = KafkaWire.ApiVersionsKey;

    internal const short MockApiVersionsMax = 2;

    private const short UnsupportedVersion = 35;

    /// <summary>The frames answered or rewritten here are a few hundred bytes; larger ones are passed on untouched.</summary>
    private const int MaxLocalFrame = 1024 * 1024;

    private const int BufferSize = 64 * 1024;

    private readonly TcpListener _listener;
    private readonly string _targetHost;
    private readonly int _targetPort;
    private readonly TopicCreator? _createTopic;
    private readonly ListenerSecurity _security;
    /// <summary>The ApiKeys added to the mock's ApiVersions responses: the ones answered here.</summary>
    private readonly IReadOnlyList<(short ApiKey, short Min, short Max)> _added;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    /// <param name="createTopic">Answers CreateTopics; null: the proxy neither advertises nor answers it.</param>
    /// <param name="security">What clients must do before their requests reach the broker; null: nothing (PLAINTEXT).</param>
    public BrokerProxy(int port, string brokerAddress, TopicCreator? createTopic = null, ListenerSecurity? security = null)
    {
        var colon = brokerAddress.LastIndexOf(':');
        _targetHost = brokerAddress[..colon];
        _targetPort = int.Parse(brokerAddress[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        _createTopic = createTopic;
        _security = security ?? ListenerSecurity.Plaintext;
        var added = new List<(short, short, short)>();
        if (createTopic is not null) added.Add((KafkaWire.CreateTopicsKey, 0, KafkaWire.CreateTopicsMaxVersion));
        // SaslHandshake v0 would be followed by bare SASL tokens instead of SaslAuthenticate requests: only v1 is
        // offered, which every client since Kafka 1.0 (librdkafka 0.11) sends.
        if (_security.UsesSasl) added.AddRange([(KafkaWire.SaslHandshakeKey, 1, 1), (KafkaWire.SaslAuthenticateKey, 0, 1)]);
        _added = added;
        _listener = new TcpListener(IPAddress.Loopback, port);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync(_stop.Token);
    }

    public int Port { get; }

    public string Address => $"127.0.0.1:{Port}";

    private async Task AcceptAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(stop); }
            catch (OperationCanceledException) { return; }
            catch (SocketException) { return; }
            _ = ForwardAsync(client, stop);
        }
    }

    private async Task ForwardAsync(TcpClient client, CancellationToken stop)
    {
        using var connectionStop = CancellationTokenSource.CreateLinkedTokenSource(stop);
        Task? requests = null, responses = null;
        SslStream? tls = null;
        using (client)
        using (var broker = new TcpClient { NoDelay = true })
        {
            client.NoDelay = true;
            Stream clientStream = client.GetStream();
            try
            {
                if (_security.UsesTls) clientStream = tls = await AcceptTlsAsync(clientStream, stop);
                await broker.ConnectAsync(_targetHost, _targetPort, stop);
                // A client that fails to authenticate is not let through: its connection closes.
                if (_security.Credentials is not { } credentials || await AuthenticateAsync(clientStream, broker.GetStream(), credentials, stop))
                {
                    var connection = new Connection(clientStream, broker.GetStream(), _createTopic, _added);
                    requests = connection.PumpRequestsAsync(connectionStop.Token);
                    responses = connection.PumpResponsesAsync(connectionStop.Token);
                    // When either side closes, close both.
                    await Task.WhenAny(requests, responses);
                }
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or AuthenticationException or InvalidDataException)
            {
                // A dropped connection is the client's to retry; a failed TLS handshake or a malformed request closes it.
            }
            await connectionStop.CancelAsync();
        }
        // Both sockets are closed: the pumps end, and return their buffers. A malformed frame also ends up here, and
        // as with Kafka, it closes the connection.
        foreach (var pump in new[] { requests, responses })
            if (pump is not null)
                try { await pump; }
                catch (Exception) { }
        if (tls is not null) await tls.DisposeAsync();
    }

    /// <summary>The server side of a TLS handshake; a client certificate, when asked for, must chain to the given issuers.</summary>
    private async Task<SslStream> AcceptTlsAsync(Stream client, CancellationToken stop)
    {
        var tls = new SslStream(client, leaveInnerStreamOpen: false, (_, certificate, _, _) => _security.IsClientCertificateValid(certificate));
        try
        {
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = _security.ServerCertificate,
                ClientCertificateRequired = _security.ClientCertificateIssuers is not null,
                CertificateRevocationCheckMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
            }, stop);
            return tls;
        }
        catch
        {
            await tls.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The SASL handshake, one request at a time as clients send it: ApiVersions goes to the mock (its answer with the
    /// SASL ApiKeys added), SaslHandshake and SaslAuthenticate are answered here, and any other request closes the
    /// connection, as a Kafka broker does, so that nothing else reaches the mock unauthenticated. A wrong password
    /// or an unknown mechanism is answered with its error, then the connection closes. True: authenticated.
    /// </summary>
    private async Task<bool> AuthenticateAsync(Stream client, Stream broker, SaslCredentials credentials, CancellationToken stop)
    {
        SaslExchange? exchange = null;
        while (true)
        {
            if (await ReadFrameAsync(client, stop) is not { } request) return false;
            var (apiKey, version, correlationId, bodyOffset) = KafkaWire.ReadRequestHeader(request.AsSpan(4));
            var body = request.AsMemory(4 + bodyOffset);
            byte[] response;
            var refused = false;
            switch (apiKey)
            {
                case ApiVersionsKey when version > MockApiVersionsMax:
                    response = UnsupportedApiVersionsResponse(correlationId);
                    break;
                case ApiVersionsKey:
                    await broker.WriteAsync(request, stop);
                    if (await ReadFrameAsync(broker, stop) is not { } versions) return false;
                    response = KafkaWire.AddApiVersions(versions, version, _added) ?? versions;
                    break;
                case KafkaWire.SaslHandshakeKey when exchange is null && version == 1:
                    var mechanism = KafkaWire.ReadSaslHandshake(body.Span);
                    refused = !_security.Mechanisms.Contains(mechanism);
                    if (!refused) exchange = new SaslExchange(credentials, mechanism);
                    response = KafkaWire.SaslHandshakeResponse(correlationId, refused ? ErrorCode.UnsupportedSaslMechanism : ErrorCode.NoError, _security.Mechanisms);
                    break;
                case KafkaWire.SaslAuthenticateKey when exchange is not null && version <= 1:
                    var answer = exchange.Step(KafkaWire.ReadSaslAuthenticate(body.Span));
                    refused = answer is null;
                    response = refused
                        ? KafkaWire.SaslAuthenticateResponse(version, correlationId, ErrorCode.SaslAuthenticationFailed, exchange.FailureMessage, [])
                        : KafkaWire.SaslAuthenticateResponse(version, correlationId, ErrorCode.NoError, null, answer!);
                    break;
                default:
                    return false;
            }
            await client.WriteAsync(response, stop);
            if (refused) return false;
            if (exchange?.AuthenticatedUser is not null) return true;
        }
    }

    /// <summary>One whole frame (with its size) of at most <see cref="MaxLocalFrame"/> bytes; null: the stream closed.</summary>
    private static async Task<byte[]?> ReadFrameAsync(Stream stream, CancellationToken stop)
    {
        var size = new byte[4];
        if (await stream.ReadAtLeastAsync(size, 4, throwOnEndOfStream: false, stop) < 4) return null;
        var length = BinaryPrimitives.ReadInt32BigEndian(size);
        if (length is < 8 or > MaxLocalFrame) throw new InvalidDataException($"A frame of {length} bytes during authentication.");
        var frame = new byte[4 + length];
        size.CopyTo(frame, 0);
        return await stream.ReadAtLeastAsync(frame.AsMemory(4), length, throwOnEndOfStream: false, stop) < length ? null : frame;
    }

    /// <summary>
    /// ApiVersions response v0 as a Kafka broker sends it for a request version it does not support: error
    /// UNSUPPORTED_VERSION and the one ApiKey the client needs to retry, ApiVersions 0-2.
    /// </summary>
    internal static byte[] UnsupportedApiVersionsResponse(int correlationId)
    {
        var response = new byte[4 + 4 + 2 + 4 + 6];
        var span = response.AsSpan();
        BinaryPrimitives.WriteInt32BigEndian(span, response.Length - 4);
        BinaryPrimitives.WriteInt32BigEndian(span[4..], correlationId);
        BinaryPrimitives.WriteInt16BigEndian(span[8..], UnsupportedVersion);
        BinaryPrimitives.WriteInt32BigEndian(span[10..], 1); // ApiKeys: one entry
        BinaryPrimitives.WriteInt16BigEndian(span[14..], ApiVersionsKey);
        BinaryPrimitives.WriteInt16BigEndian(span[16..], 0);
        BinaryPrimitives.WriteInt16BigEndian(span[18..], MockApiVersionsMax);
        return response;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }

    /// <summary>What comes after the bytes a scan found ready to pass on.</summary>
    private enum Next { NeedMore, Answer, Rewrite, Stream, Continue }

    /// <summary>
    /// A response the client is owed: from the broker (its request's ApiKey and version), or made here. Discard: the
    /// mock's response to a Produce with acks=0, which the mock sends (rd_kafka_mock_handle_Produce answers every
    /// Produce) but a Kafka broker does not, and clients do not expect.
    /// </summary>
    private readonly record struct Owed(short ApiKey, short ApiVersion, byte[]? Local, bool Discard = false);

    /// <summary>Bytes read from a socket and not yet passed on: Data[Start..End], in a pooled array.</summary>
    private sealed class FrameBuffer : IDisposable
    {
        public byte[] Data = ArrayPool<byte>.Shared.Rent(BufferSize);
        public int Start;
        public int End;

        public int Count => End - Start;

        /// <summary>Reads what the socket has, with room for at least <paramref name="needed"/> bytes from Start. False: it closed.</summary>
        public async ValueTask<bool> FillAsync(Stream stream, int needed, CancellationToken stop)
        {
            if (Count == 0) Start = End = 0;
            if (needed > Data.Length)
            {
                var larger = ArrayPool<byte>.Shared.Rent(needed);
                Data.AsSpan(Start, Count).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(Data);
                (Data, End, Start) = (larger, Count, 0);
            }
            else if (Start + needed > Data.Length || End == Data.Length)
            {
                Data.AsSpan(Start, Count).CopyTo(Data);
                (End, Start) = (Count, 0);
            }
            var read = await stream.ReadAsync(Data.AsMemory(End), stop);
            End += read;
            return read > 0;
        }

        public void Dispose() => ArrayPool<byte>.Shared.Return(Data);
    }

    private sealed class Connection(Stream client, Stream broker, TopicCreator? createTopic, IReadOnlyList<(short ApiKey, short Min, short Max)> added)
    {
        /// <summary>Responses owed, in request order. Locked itself; an entry leaves it once its bytes are passed on.</summary>
        private readonly Queue<Owed> _owed = new();

        /// <summary>Whoever writes to the client holds this: the response pump, or the request pump with an answer of its own.</summary>
        private readonly SemaphoreSlim _writing = new(1, 1);

        private long _requestRemaining;
        private long _responseRemaining;
        private bool _responseOwed;
        private bool _responseDiscard;

        public async Task PumpRequestsAsync(CancellationToken stop)
        {
            using var buffer = new FrameBuffer();
            while (true)
            {
                if (_requestRemaining > 0)
                {
                    // The rest of a frame being passed on.
                    if (buffer.Count == 0 && !await buffer.FillAsync(client, 1, stop)) return;
                    var part = (int)Math.Min(_requestRemaining, buffer.Count);
                    await broker.WriteAsync(buffer.Data.AsMemory(buffer.Start, part), stop);
                    buffer.Start += part;
                    _requestRemaining -= part;
                    continue;
                }
                var (forward, next, length) = ScanRequests(buffer);
                if (forward > 0)
                {
                    await broker.WriteAsync(buffer.Data.AsMemory(buffer.Start, forward), stop);
                    buffer.Start += forward;
                }
                if (next == Next.Answer)
                {
                    var response = Answer(buffer.Data.AsSpan(buffer.Start + 4, length - 4));
                    buffer.Start += length;
                    lock (_owed) _owed.Enqueue(new Owed(0, 0, response));
                    await _writing.WaitAsync(stop);
                    try { await WriteLocalAnswersAsync(stop); }
                    finally { _writing.Release(); }
                }
                else if (next == Next.NeedMore && !await buffer.FillAsync(client, length, stop))
                    return;
            }
        }

        /// <summary>
        /// Goes through the complete frames from buffer.Start: notes the response each one passed on is owed, and
        /// returns how many bytes to pass on, then what comes next (NeedMore: the bytes needed from the first frame
        /// not passed on; Answer: that frame's length; Stream: the last frame passed on is incomplete).
        /// </summary>
        private (int Forward, Next Next, int Length) ScanRequests(FrameBuffer buffer)
        {
            var position = buffer.Start;
            while (true)
            {
                var available = buffer.End - position;
                var forward = position - buffer.Start;
                if (available < 12) return (forward, Next.NeedMore, 12); // size, ApiKey, version, correlation id
                var frame = buffer.Data.AsSpan(position, available);
                var size = BinaryPrimitives.ReadInt32BigEndian(frame);
                if (size < 8) throw new InvalidDataException($"A request frame of {size} bytes.");
                var length = 4L + size;
                var complete = available >= length;
                var body = complete ? frame[4..(int)length] : frame[4..];
                var apiKey = BinaryPrimitives.ReadInt16BigEndian(body);
                var version = BinaryPrimitives.ReadInt16BigEndian(body[2..]);

                var answerHere = length <= MaxLocalFrame &&
                    (apiKey == ApiVersionsKey && version > MockApiVersionsMax ||
                     apiKey == KafkaWire.CreateTopicsKey && createTopic is not null && version <= KafkaWire.CreateTopicsMaxVersion);
                if (answerHere)
                {
                    if (!complete) return (forward, Next.NeedMore, (int)length);
                    return (forward, Next.Answer, (int)length);
                }
                var discard = false;
                if (apiKey == KafkaWire.ProduceKey)
                {
                    if (KafkaWire.TryReadProduceAcks(body, out var acks)) discard = acks == 0;
                    else if (!complete) return (forward, Next.NeedMore, (int)Math.Min(length, Math.Max(2L * available, BufferSize)));
                    // A malformed Produce: the broker will say so.
                }
                lock (_owed) _owed.Enqueue(new Owed(apiKey, version, null, discard));
                if (!complete)
                {
                    _requestRemaining = length - available;
                    return (forward + available, Next.Stream, 0);
                }
                position += (int)length;
            }
        }

        private byte[] Answer(ReadOnlySpan<byte> request)
        {
            var apiKey = BinaryPrimitives.ReadInt16BigEndian(request);
            if (apiKey == ApiVersionsKey) return UnsupportedApiVersionsResponse(BinaryPrimitives.ReadInt32BigEndian(request[4..]));
            return KafkaWire.AnswerCreateTopics(request, createTopic!);
        }

        /// <summary>Writes the answers made here that are next in line. The caller holds <see cref="_writing"/>.</summary>
        private async ValueTask WriteLocalAnswersAsync(CancellationToken stop)
        {
            if (_responseRemaining > 0) return; // in the middle of a broker response: the response pump writes them after it
            while (true)
            {
                byte[]? answer;
                lock (_owed) answer = _owed.Count > 0 ? _owed.Peek().Local : null;
                if (answer is null) return;
                await client.WriteAsync(answer, stop);
                lock (_owed) _owed.Dequeue();
            }
        }

        public async Task PumpResponsesAsync(CancellationToken stop)
        {
            using var buffer = new FrameBuffer();
            while (true)
            {
                int needed;
                await _writing.WaitAsync(stop);
                try
                {
                    while (true)
                    {
                        var (forward, next, length) = ScanResponses(buffer);
                        if (forward > 0)
                        {
                            await client.WriteAsync(buffer.Data.AsMemory(buffer.Start, forward), stop);
                            buffer.Start += forward;
                        }
                        if (next == Next.Answer)
                            await WriteLocalAnswersAsync(stop);
                        else if (next == Next.Rewrite)
                        {
                            short version;
                            lock (_owed) version = _owed.Dequeue().ApiVersion;
                            var frame = buffer.Data.AsMemory(buffer.Start, length);
                            var rewritten = KafkaWire.AddApiVersions(frame.Span, version, added);
                            await client.WriteAsync(rewritten ?? frame, stop);
                            buffer.Start += length;
                        }
                        else if (next == Next.Continue)
                            continue;
                        else
                        {
                            needed = length;
                            break;
                        }
                    }
                }
                finally
                {
                    _writing.Release();
                }
                if (!await buffer.FillAsync(broker, needed, stop)) return;
            }
        }

        /// <summary>
        /// Goes through the response frames from buffer.Start (the caller holds <see cref="_writing"/>): returns how many
        /// bytes to pass on, then what comes next (NeedMore: bytes needed from the first frame not passed on; Answer:
        /// answers made here are next in line; Rewrite: an ApiVersions response of that length is next; Continue: scan
        /// again once these bytes are written).
        /// </summary>
        private (int Forward, Next Next, int Length) ScanResponses(FrameBuffer buffer)
        {
            var position = buffer.Start;
            while (true)
            {
                var available = buffer.End - position;
                var forward = position - buffer.Start;
                if (_responseRemaining > 0)
                {
                    if (_responseDiscard && forward > 0) return (forward, Next.Continue, 0); // write what comes before it first
                    var part = (int)Math.Min(_responseRemaining, available);
                    position += part;
                    _responseRemaining -= part;
                    if (_responseDiscard) buffer.Start = position;
                    if (_responseRemaining > 0) return (position - buffer.Start, Next.NeedMore, 1);
                    if (_responseOwed)
                        lock (_owed) _owed.Dequeue();
                    continue;
                }
                Owed head;
                bool owed;
                lock (_owed) owed = _owed.TryPeek(out head);
                if (owed && head.Local is not null) return (forward, Next.Answer, 0);
                if (available < 4) return (forward, Next.NeedMore, 4);
                var length = 4L + BinaryPrimitives.ReadInt32BigEndian(buffer.Data.AsSpan(position));
                if (length < 8) throw new InvalidDataException($"A response frame of {length - 4} bytes.");
                if (owed && added.Count > 0 && head.ApiKey == ApiVersionsKey && head.ApiVersion <= MockApiVersionsMax && length <= MaxLocalFrame)
                    return (forward, available >= length ? Next.Rewrite : Next.NeedMore, (int)length);
                // Passed on as it comes. A response nobody asked for (no owed entry) is passed on too.
                _responseRemaining = length;
                _responseOwed = owed;
                _responseDiscard = owed && head.Discard;
            }
        }
    }
}
