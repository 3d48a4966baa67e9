namespace CometMpm.Threading;

/// <summary>
/// A pulse that wakes everyone waiting at the time. Waiters take <see cref="WaitTask"/> first, then
/// re-check their condition, then await: a pulse between the check and the await is not lost.
/// </summary>
internal sealed class AsyncSignal
{
    private TaskCompletionSource _source = NewSource();

    public Task WaitTask => Volatile.Read(ref _source).Task;

    public void Pulse() => Interlocked.Exchange(ref _source, NewSource()).TrySetResult();

    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
