namespace CometMpm.Persistence;

/// <summary>The file-system chores of the outbox: listing, counting, folder creation, and recovery after a crash.</summary>
internal static class OutboxFiles
{
    /// <summary>The parseable batches in <paramref name="ready"/>, oldest first; any other file is handed to <paramref name="unexpected"/>.</summary>
    public static List<(string Path, OutboxFileName Name)> ReadyOldestFirst(string ready, Action<string, string> unexpected)
    {
        var batches = new List<(string Path, OutboxFileName Name)>();
        foreach (var path in SafeFiles(ready))
        {
            if (OutboxFileName.TryParse(path, out var name))
            {
                batches.Add((path, name));
            }
            else
            {
                unexpected(path, "its name is not one this library writes");
            }
        }

        batches.Sort((a, b) => string.CompareOrdinal(Path.GetFileName(a.Path), Path.GetFileName(b.Path)));
        return batches;
    }

    /// <summary>Files, bytes and events (from the names) in the given folders.</summary>
    public static (int Files, long Bytes, long Events) Count(params string[] folders)
    {
        var files = 0;
        long bytes = 0, events = 0;
        foreach (var folder in folders)
        {
            foreach (var path in SafeFiles(folder))
            {
                if (OutboxFileName.TryParse(path, out var name) && TryIo(() => bytes += new FileInfo(path).Length))
                {
                    files++;
                    events += name.Count;
                }
            }
        }

        return (files, bytes, events);
    }

    /// <summary>A file left in tmp/ by a process killed while writing it was never renamed: it is incomplete, never sent.</summary>
    public static void RemoveStaleTemporaryFiles(string temp, TimeProvider timeProvider)
    {
        foreach (var path in SafeFiles(temp))
        {
            if (timeProvider.GetUtcNow() - File.GetLastWriteTimeUtc(path) > TimeSpan.FromMinutes(1))
            {
                TryIo(() => File.Delete(path));
            }
        }
    }

    /// <summary>Moves what dead processes had leased back to <paramref name="ready"/>; returns how many batches.</summary>
    public static int RecoverAbandoned(string processing, string ready, string ownInstance, TimeSpan grace, TimeProvider timeProvider)
    {
        var recovered = 0;
        foreach (var lockPath in SafeFiles(processing, "*.lock"))
        {
            var instance = Path.GetFileNameWithoutExtension(lockPath);
            if (instance == ownInstance || timeProvider.GetUtcNow() - File.GetLastWriteTimeUtc(lockPath) < grace)
            {
                continue;
            }

            FileStream? taken = null;
            try
            {
                taken = new FileStream(lockPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                continue; // its owner is alive
            }

            using (taken)
            {
                var folder = Path.Combine(processing, instance);
                recovered += MoveAll(folder, ready);

                TryIo(() => Directory.Delete(folder, recursive: false));
                TryIo(() => File.Delete(lockPath));
            }
        }

        return recovered;
    }

    /// <summary>Writes a body to a temporary path, flushed to disk; a crash leaves only an incomplete file there, never sent.</summary>
    public static string WriteTemporary(string temp, ReadOnlyMemory<byte> body)
    {
        using var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.None);
        stream.Write(body.Span);
        stream.Flush(flushToDisk: true);
        return temp;
    }

    /// <summary>Moves every file of <paramref name="from"/> into <paramref name="to"/>, best effort; returns how many moved.</summary>
    public static int MoveAll(string from, string to)
    {
        var moved = 0;
        foreach (var path in SafeFiles(from))
        {
            if (TryIo(() => File.Move(path, Path.Combine(to, Path.GetFileName(path)))))
            {
                moved++;
            }
        }

        return moved;
    }

    /// <summary>The files of a folder; none when it does not exist. Other I/O errors are thrown for the caller to report.</summary>
    public static string[] SafeFiles(string folder, string pattern = "*")
    {
        try
        {
            return Directory.GetFiles(folder, pattern);
        }
        catch (DirectoryNotFoundException)
        {
            return [];
        }
    }

    public static void CreateOwnerOnly(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
        }
        else
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    /// <summary>Runs a best-effort file operation; false when it failed with an I/O error.</summary>
    public static bool TryIo(Action action)
    {
        try
        {
            action();
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
