using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;

namespace CometMpm.Tests.Infrastructure;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that also tells which timers were created, so a test can advance
/// time only once the code under test is really waiting (no race, no sleep).
/// </summary>
public sealed class ObservableTimeProvider : TimeProvider
{
    private readonly ConcurrentQueue<TimeSpan> _timers = new();
    private readonly SemaphoreSlim _created = new(0);

    public FakeTimeProvider Fake { get; } = new(new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero));

    public override DateTimeOffset GetUtcNow() => Fake.GetUtcNow();

    public override long GetTimestamp() => Fake.GetTimestamp();

    public override long TimestampFrequency => Fake.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => Fake.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = Fake.CreateTimer(callback, state, dueTime, period);
        _timers.Enqueue(dueTime);
        _created.Release();
        return timer;
    }

    public void Advance(TimeSpan by) => Fake.Advance(by);

    /// <summary>Waits until a timer with the given due time has been created.</summary>
    public async Task WaitForTimerAsync(TimeSpan dueTime, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        while (!_timers.Any(t => t == dueTime))
        {
            try
            {
                await _created.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"No timer of {dueTime} was created; saw {string.Join(", ", _timers)}.");
            }
        }
    }
}
