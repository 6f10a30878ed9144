namespace CtrPipeline.EndToEnd.Tests;

/// <summary>A theory about Linux's /proc: skipped elsewhere.</summary>
public sealed class LinuxTheoryAttribute : TheoryAttribute
{
    public LinuxTheoryAttribute()
    {
        if (!OperatingSystem.IsLinux()) Skip = "this machine is not Linux: the test reads Linux's /proc";
    }
}
