namespace FlinkGateway.Tests;

public sealed class FlinkErrorTextTests
{
    [Fact]
    public void The_table_api_exception_is_chosen_with_its_whole_message_and_no_stack_frames()
    {
        var text = FlinkErrorText.RootCause(["Internal server error.", DocumentedFlinkRestServer.FlinkValidationError]);

        Assert.StartsWith("ValidationException: Could not find any factory for identifier 'kafka'", text);
        Assert.Contains("Available factory identifiers are:", text);
        Assert.Contains("filesystem", text);
        Assert.DoesNotContain("\tat ", text);
        Assert.DoesNotContain(".java:", text);
        Assert.DoesNotContain("more", text);
    }

    [Fact]
    public void Without_a_table_api_exception_the_deepest_cause_is_chosen()
    {
        var text = FlinkErrorText.RootCause([
            "java.lang.RuntimeException: outer\n\tat a.b.C.d(C.java:1)\nCaused by: java.net.ConnectException: Connection refused\n\tat x.Y.z(Y.java:2)",
        ]);
        Assert.Equal("ConnectException: Connection refused", text);
    }

    [Fact]
    public void Plain_messages_are_passed_through()
    {
        Assert.Equal("Job could not be found.", FlinkErrorText.RootCause(["Job could not be found."]));
        Assert.Equal("no error text", FlinkErrorText.RootCause([]));
    }
}
