namespace CtrPipeline.EndToEnd.Tests;

/// <summary>A fact about Linux's /proc: skipped elsewhere.</summary>
public sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux()) Skip = "this machine is not Linux: the test reads Linux's /proc";
    }
}
