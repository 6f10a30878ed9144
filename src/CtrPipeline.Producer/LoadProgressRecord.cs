using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CtrPipeline.Producer;

/// <summary>
/// One producer instance's progress as it publishes it to Producer:ProgressTopic, keyed by its instance number:
/// snake_case JSON, the same type on both sides (<see cref="ProgressPublisher"/> writes it, the benchmark reads it).
/// <see cref="Done"/> is set once, on the record after the producer's flush, whose counts are final.
/// </summary>
public sealed partial record LoadProgressRecord(
    int Instance, int Instances, long Sent, long Delivered, long DeliveryErrors, long Malformed,
    double ScheduleLagMs, double MaxScheduleLagMs, int State, double OfferedRate, TimeSpan Elapsed, bool Done)
{
    public static LoadProgressRecord From(ProducerOptions options, ProducerProgress p, bool done) =>
        new(options.Instance, options.Instances, p.Sent, p.Delivered, p.DeliveryErrors, p.Malformed,
            p.ScheduleLagMs, p.MaxScheduleLagMs, p.State, p.OfferedRate, p.Elapsed, done);

    /// <summary>The counters as the producer's own progress (an instance schedules what it sends).</summary>
    public ProducerProgress Progress =>
        new(Sent, Sent, Delivered, DeliveryErrors, Malformed, ScheduleLagMs, MaxScheduleLagMs, State, OfferedRate, Elapsed);

    /// <summary>The record's Kafka key: the instance number, so one instance's records stay in order on one partition.</summary>
    public byte[] Key => Encoding.UTF8.GetBytes(Instance.ToString(CultureInfo.InvariantCulture));

    public byte[] Serialize() => JsonSerializer.SerializeToUtf8Bytes(this, Json.Default.LoadProgressRecord);

    /// <summary>The record in <paramref name="value"/>; null when it is not one.</summary>
    public static LoadProgressRecord? Parse(ReadOnlySpan<byte> value)
    {
        try
        {
            return JsonSerializer.Deserialize(value, Json.Default.LoadProgressRecord);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    [JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
    [JsonSerializable(typeof(LoadProgressRecord))]
    private sealed partial class Json : JsonSerializerContext;
}
