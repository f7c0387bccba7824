using System.Text;

namespace Ensemble.Jobs.Jobs;

/// <summary>The log and workspace chores every terraform job shares (plan, apply, post-merge plan).</summary>
internal static class RunLog
{
    /// <summary>A stored log stops growing here; terraform's last lines matter most and are kept by <see cref="Tail"/>.</summary>
    public const int MaxLogChars = 20 * 1024 * 1024;

    public static void Append(StringBuilder log, string line)
    {
        if (log.Length < MaxLogChars)
        {
            log.Append(line).Append('\n');
        }
    }

    public static string Tail(StringBuilder log, int max) =>
        log.Length <= max ? log.ToString() : log.ToString(log.Length - max, max);

    /// <summary>Removes a run's workspace; a leftover one is harmless, since every attempt uses its own directory.</summary>
    public static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
