using System.ComponentModel;
using System.Diagnostics;

namespace CtrPipeline.AppHost;

/// <summary>Finds out whether a container runtime can run containers right now (a client without a daemon cannot).</summary>
public static class ContainerRuntime
{
    /// <summary>The runtime Aspire would use: ASPIRE_CONTAINER_RUNTIME (docker or podman), docker by default.</summary>
    public static string Name =>
        Environment.GetEnvironmentVariable("ASPIRE_CONTAINER_RUNTIME")
        ?? Environment.GetEnvironmentVariable("DOTNET_ASPIRE_CONTAINER_RUNTIME")
        ?? "docker";

    /// <summary>Asks the runtime for its server version; true only if its daemon answered within the timeout.</summary>
    public static bool IsHealthy(TimeSpan timeout)
    {
        var start = new ProcessStartInfo(Name, ["info", "--format", "{{.ServerVersion}}"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        try
        {
            using var process = Process.Start(start);
            if (process is null) return false;
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                return false;
            }
            return process.ExitCode == 0 && process.StandardOutput.ReadToEnd().Trim().Length > 0;
        }
        catch (Win32Exception)
        {
            return false; // not installed
        }
    }
}
