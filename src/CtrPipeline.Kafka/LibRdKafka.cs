using System.Reflection;
using System.Runtime.InteropServices;

namespace CtrPipeline.Kafka;

/// <summary>
/// The slice of librdkafka's C API the embedded cluster needs (rdkafka.h and rdkafka_mock.h), bound to the native
/// library that the librdkafka.redist package ships and Confluent.Kafka itself loads.
/// </summary>
internal static partial class LibRdKafka
{
    private const string Name = "librdkafka";

    static LibRdKafka() => NativeLibrary.SetDllImportResolver(typeof(LibRdKafka).Assembly, Resolve);

    /// <summary>
    /// Debian has no libsasl2.so.3, which the package's default Linux build needs, while its centos8 build loads;
    /// so try the candidates the package ships in order and take the first that loads.
    /// </summary>
    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name != Name) return IntPtr.Zero;
        string[] candidates = RuntimeInformation.IsOSPlatform(OSPlatform.Linux)
            ? ["librdkafka.so", "centos8-librdkafka.so", "alpine-librdkafka.so"]
            : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? ["librdkafka.dylib"] : ["librdkafka.dll"];
        var folder = Path.Combine(AppContext.BaseDirectory, "runtimes", RuntimeInformation.RuntimeIdentifier, "native");
        foreach (var file in candidates)
        {
            foreach (var dir in new[] { folder, Path.Combine(AppContext.BaseDirectory, "runtimes", $"{OsName()}-{Arch()}", "native"), AppContext.BaseDirectory })
                if (NativeLibrary.TryLoad(Path.Combine(dir, file), out var handle))
                    return handle;
        }
        throw new DllNotFoundException(
            $"Could not load librdkafka from the librdkafka.redist package (looked for {string.Join(", ", candidates)} under {folder}).");
    }

    private static string OsName() =>
        RuntimeInformation.IsOSPlatform(OSPlatform.Linux) ? "linux" : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "osx" : "win";

    private static string Arch() => RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant();

    internal const int Producer = 0; // RD_KAFKA_PRODUCER

    [LibraryImport(Name)] internal static partial IntPtr rd_kafka_conf_new();

    [LibraryImport(Name, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_conf_set(IntPtr conf, string name, string value, byte[] errstr, nuint errstrSize);

    [LibraryImport(Name)] internal static partial IntPtr rd_kafka_new(int type, IntPtr conf, byte[] errstr, nuint errstrSize);

    [LibraryImport(Name)] internal static partial void rd_kafka_destroy(IntPtr rk);

    [LibraryImport(Name)] internal static partial IntPtr rd_kafka_err2str(int err);

    [LibraryImport(Name)] internal static partial IntPtr rd_kafka_mock_cluster_new(IntPtr rk, int brokerCount);

    [LibraryImport(Name)] internal static partial void rd_kafka_mock_cluster_destroy(IntPtr cluster);

    [LibraryImport(Name)] internal static partial IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr cluster);

    [LibraryImport(Name, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_topic_create(IntPtr cluster, string topic, int partitions, int replicationFactor);

    [LibraryImport(Name, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_partition_delete_records(IntPtr cluster, string topic, int partition, long beforeOffset);

    [LibraryImport(Name)] internal static partial int rd_kafka_mock_broker_set_down(IntPtr cluster, int brokerId);

    [LibraryImport(Name)] internal static partial int rd_kafka_mock_broker_set_up(IntPtr cluster, int brokerId);

    [LibraryImport(Name)] internal static partial int rd_kafka_mock_broker_set_rtt(IntPtr cluster, int brokerId, int rttMs);

    [LibraryImport(Name, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_partition_set_leader(IntPtr cluster, string topic, int partition, int brokerId);

    [LibraryImport(Name, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_coordinator_set(IntPtr cluster, string keyType, string key, int brokerId);

    [LibraryImport(Name)]
    internal static partial int rd_kafka_mock_set_apiversion(IntPtr cluster, short apiKey, short minVersion, short maxVersion);

    [LibraryImport(Name)] internal static partial void rd_kafka_mock_set_controller_id(IntPtr cluster, int brokerId);

    [LibraryImport(Name, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial void rd_kafka_mock_broker_set_host_port(IntPtr cluster, int brokerId, string host, int port);

    [LibraryImport(Name)]
    internal static partial void rd_kafka_mock_push_request_errors_array(IntPtr cluster, short apiKey, nuint count, int[] errors);

    internal static string ErrorText(int err) => Marshal.PtrToStringUTF8(rd_kafka_err2str(err)) ?? $"error {err}";
}
