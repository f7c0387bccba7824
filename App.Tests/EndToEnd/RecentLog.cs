using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Ensemble.Tests.EndToEnd;

/// <summary>
/// The last few hundred log lines of one test host (Ensemble's own at Information, everything else at Warning), kept so a
/// timed-out end-to-end test can say what the host was doing instead of only what GitHub showed.
/// </summary>
public sealed class RecentLog : ILoggerProvider
{
    private const int Capacity = 300;
    private readonly ConcurrentQueue<string> _lines = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public IReadOnlyList<string> Lines => [.. _lines];

    public void Dispose()
    {
    }

    private void Add(string line)
    {
        _lines.Enqueue(line);
        while (_lines.Count > Capacity && _lines.TryDequeue(out _))
        {
        }
    }

    private sealed class Logger(RecentLog log, string category) : ILogger
    {
        private readonly LogLevel _minimum = category.StartsWith("Ensemble", StringComparison.Ordinal) ? LogLevel.Information : LogLevel.Warning;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= _minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            var error = exception is null ? "" : $" — {exception.GetType().Name}: {exception.Message}";
            log.Add($"{DateTime.UtcNow:HH:mm:ss.fff} [{Environment.CurrentManagedThreadId}] {logLevel} {category}: {formatter(state, exception)}{error}");
        }
    }
}
