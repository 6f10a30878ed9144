using CtrPipeline.Contracts;

namespace Microsoft.Extensions.Configuration;

public static class ConfigurationBinding
{
    /// <summary>
    /// Binds a section to a fresh options object; a value the binder cannot convert (Engine__CommitInterval=soon)
    /// becomes a <see cref="ConfigurationException"/> like any other bad setting, so every service reports it the same way.
    /// </summary>
    public static T BindSection<T>(this IConfiguration configuration, string section) where T : new()
    {
        try
        {
            return configuration.GetSection(section).Get<T>() ?? new T();
        }
        catch (InvalidOperationException e)
        {
            throw new ConfigurationException($"{section}: {e.Message}");
        }
    }
}
