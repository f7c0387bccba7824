using System.Threading.Channels;
using Ensemble.Jobs.State;

namespace Ensemble.App.Webhooks;

/// <summary>
/// Group commit for webhook deliveries: requests arriving together are recorded in one INSERT and one commit, and
/// each request is answered once its own row is durable. Alone, a delivery is written at once (no added wait).
/// </summary>
public sealed class DeliveryRecorder(IStateStore state) : IAsyncDisposable
{
    private const int MaxBatch = 64;

    private readonly Channel<(Delivery Delivery, TaskCompletionSource<bool> Done)> _queue =
        Channel.CreateUnbounded<(Delivery, TaskCompletionSource<bool>)>(new UnboundedChannelOptions { SingleReader = true });

    private Task? _writer;
    private readonly Lock _gate = new();

    /// <summary>Records the delivery; true when it is new, false for a redelivery of a recorded id.</summary>
    public Task<bool> RecordAsync(Delivery delivery, CancellationToken cancellationToken)
    {
        EnsureWriter();
        var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite((delivery, done)))
        {
            throw new InvalidOperationException("Ensemble is shutting down and records no more deliveries.");
        }

        return done.Task.WaitAsync(cancellationToken);
    }

    private void EnsureWriter()
    {
        if (_writer is not null)
        {
            return;
        }

        lock (_gate)
        {
            _writer ??= Task.Run(WriteAsync);
        }
    }

    private async Task WriteAsync()
    {
        var batch = new List<(Delivery Delivery, TaskCompletionSource<bool> Done)>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var item))
            {
                batch.Add(item);
            }

            try
            {
                var inserted = await state.RecordDeliveriesAsync([.. batch.Select(b => b.Delivery)]);
                var answered = new HashSet<string>(StringComparer.Ordinal);
                foreach (var (delivery, done) in batch)
                {
                    // The same id twice in one batch: the first is new, the second a redelivery.
                    done.TrySetResult(inserted.Contains(delivery.DeliveryId) && answered.Add(delivery.DeliveryId));
                }
            }
            catch (Exception e)
            {
                // Not recorded: every request of the batch fails, so GitHub marks the delivery failed (and it can be redelivered).
                foreach (var (_, done) in batch)
                {
                    done.TrySetException(e);
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        if (_writer is not null)
        {
            await _writer;
        }
    }
}
