using CtrPipeline.Contracts;

namespace SparkDriver;

/// <summary>Spark answered with an error; <see cref="Exception.Message"/> is Spark's own message.</summary>
public class SparkException(string message) : WorkerFailedException(message);

/// <summary>Nothing answered at the endpoint.</summary>
public sealed class SparkUnreachableException(Uri address, string reason)
    : SparkException($"Cannot reach Spark Connect at {address}: {reason}");
