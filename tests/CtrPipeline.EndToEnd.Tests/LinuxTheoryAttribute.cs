namespace CtrPipeline.EndToEnd.Tests;

/// <summary>A theory about Linux's /proc: skipped elsewhere.</summary>
public sealed class LinuxTheoryAttribute : TheoryAttribute
{
    public LinuxTheoryAttribute()
    {
        if (!OperatingSystem.IsLinux()) Skip = "reads Linux's /proc";
    }
}
