using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CtrPipeline.Bench.Verification;

/// <summary>
/// The file a tap process hands its events over in: a header (magic, records read, records lost, events) and the
/// events as their 32-byte structs, in slices (a long run's events pass the 2 GiB a single span may cover).
/// </summary>
public static class TappedEventsFile
{
    private const long Magic = 0x3150_4154_5254_43; // "CTRTAP1", little-endian
    private const int Slice = 1 << 20;

    public static void Write(string path, RecordedEvents recorded) => Write(path, [recorded.Events], recorded.EventRecords, recorded.Lost);

    /// <summary>Writes the events of several taps (one after another) as one file.</summary>
    public static void Write(string path, IReadOnlyList<IReadOnlyList<TappedEvent>> parts, long eventRecords, long lost)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Span<long> header = [Magic, eventRecords, lost, parts.Sum(p => (long)p.Count)];
        file.Write(MemoryMarshal.AsBytes(header));
        foreach (var part in parts)
        {
            var events = part as List<TappedEvent> ?? [.. part];
            var all = CollectionsMarshal.AsSpan(events);
            for (var i = 0; i < all.Length; i += Slice)
                file.Write(MemoryMarshal.AsBytes(all.Slice(i, Math.Min(Slice, all.Length - i))));
        }
    }

    public static RecordedEvents Read(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        Span<long> header = stackalloc long[4];
        file.ReadExactly(MemoryMarshal.AsBytes(header));
        if (header[0] != Magic) throw new InvalidDataException($"{path} is not a tap's events file.");
        var count = checked((int)header[3]);
        if (file.Length != 4 * sizeof(long) + (long)count * Unsafe.SizeOf<TappedEvent>())
            throw new InvalidDataException($"{path} is cut short: {count:N0} events announced.");
        var events = new List<TappedEvent>(count);
        CollectionsMarshal.SetCount(events, count);
        var all = CollectionsMarshal.AsSpan(events);
        for (var i = 0; i < count; i += Slice)
            file.ReadExactly(MemoryMarshal.AsBytes(all.Slice(i, Math.Min(Slice, count - i))));
        return new RecordedEvents(events, header[1], header[2]);
    }
}
