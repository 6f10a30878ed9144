using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace FlinkGateway;

/// <summary>One answer of a Flink REST endpoint: its status, its JSON body (null when empty or not JSON), and Flink's error text.</summary>
public sealed record FlinkResponse(HttpStatusCode Status, JsonNode? Json, string Text)
{
    public bool IsSuccess => (int)Status is >= 200 and < 300;

    /// <summary>The root cause from Flink's <c>{"errors": [...]}</c> body, or the raw body.</summary>
    public string Error
    {
        get
        {
            var errors = Json?["errors"] is JsonArray array ? array.Select(e => e?.GetValue<string>() ?? "").ToList() : [Text];
            return FlinkErrorText.RootCause(errors);
        }
    }
}

/// <summary>The HTTP exchange both Flink clients share: JSON in, JSON out, transport failures as <see cref="FlinkUnreachableException"/>.</summary>
internal static class FlinkHttp
{
    public static async Task<FlinkResponse> SendAsync(
        HttpClient http, string what, HttpMethod method, string path, JsonNode? body, CancellationToken cancel)
    {
        var address = http.BaseAddress ?? throw new InvalidOperationException("The HttpClient needs a BaseAddress.");
        using var request = new HttpRequestMessage(method, path.TrimStart('/'));
        if (body is not null) request.Content = JsonContent.Create(body);
        try
        {
            using var response = await http.SendAsync(request, cancel);
            var text = await response.Content.ReadAsStringAsync(cancel);
            return new FlinkResponse(response.StatusCode, Parse(text), text);
        }
        catch (HttpRequestException e)
        {
            throw new FlinkUnreachableException(what, address, e.Message);
        }
        catch (TaskCanceledException e) when (!cancel.IsCancellationRequested)
        {
            throw new FlinkUnreachableException(what, address, $"no answer within {http.Timeout.TotalSeconds:0} s ({e.Message})");
        }
    }

    /// <summary>The body of a successful answer, or a <see cref="FlinkException"/> with Flink's error text.</summary>
    public static JsonNode? Require(this FlinkResponse response, HttpMethod method, string path) =>
        response.IsSuccess
            ? response.Json
            : throw new FlinkException($"{response.Error} (HTTP {(int)response.Status} from {method} /{path.Split('?')[0]})");

    private static JsonNode? Parse(string text)
    {
        if (text.Length == 0) return null;
        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
