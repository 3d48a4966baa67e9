using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace CometMpm.Emulator.Persistence;

/// <summary>
/// The emulator's SQLite store: one open connection (which also keeps a shared in-memory database
/// alive), guarded by an async gate; every write of a batch runs in one transaction.
/// </summary>
internal sealed class EmulatorStore : IDisposable
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS predictions(
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            workspace TEXT NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL,
            prediction_id TEXT NOT NULL, id_is_number INTEGER NOT NULL, timestamp INTEGER NOT NULL,
            features TEXT, prediction TEXT,
            UNIQUE(workspace, model, version, prediction_id));
        CREATE TABLE IF NOT EXISTS labels(
            workspace TEXT NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL,
            prediction_id TEXT NOT NULL, labels TEXT NOT NULL, timestamp INTEGER NOT NULL,
            PRIMARY KEY(workspace, model, version, prediction_id)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS dataset_rows(
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            workspace TEXT NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL, dataset_name TEXT NOT NULL,
            prediction_id TEXT NOT NULL, id_is_number INTEGER NOT NULL, timestamp INTEGER NOT NULL,
            features TEXT, prediction TEXT, labels TEXT,
            UNIQUE(workspace, model, version, dataset_name, prediction_id));
        """;

    private readonly SqliteConnection _connection;
    private readonly SemaphoreSlim _gate = new(1, 1);

    public EmulatorStore(string? dbPath)
    {
        var builder = new SqliteConnectionStringBuilder { Pooling = false };
        if (string.IsNullOrWhiteSpace(dbPath))
        {
            builder.DataSource = "comet-mpm-emulator-" + Guid.NewGuid().ToString("N");
            builder.Mode = SqliteOpenMode.Memory;
            builder.Cache = SqliteCacheMode.Shared;
        }
        else
        {
            var full = Path.GetFullPath(dbPath);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            builder.DataSource = full;
            builder.Mode = SqliteOpenMode.ReadWriteCreate;
        }

        IsInMemory = string.IsNullOrWhiteSpace(dbPath);
        _connection = new SqliteConnection(builder.ToString());
        _connection.Open();
        Execute(IsInMemory
            ? "PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF;"
            : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
        Execute(Schema);
    }

    public bool IsInMemory { get; }

    public async Task<WriteResult> WriteAsync(
        StoreTarget target, string? datasetName, IReadOnlyList<IncomingEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0)
        {
            return default;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var transaction = _connection.BeginTransaction();
            var result = target switch
            {
                StoreTarget.Predictions => InsertPredictions(transaction, events),
                StoreTarget.Labels => MergeLabels(transaction, events, incomingWins: true),
                _ => InsertDatasetRows(transaction, datasetName ?? string.Empty, events),
            };
            transaction.Commit();
            return result;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<IReadOnlyList<EmulatorModelSummary>> GetModelsAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var command = _connection.CreateCommand();
            command.CommandText = """
                SELECT workspace, model, version, SUM(p), SUM(l), SUM(d) FROM (
                    SELECT workspace, model, version, COUNT(*) AS p, 0 AS l, 0 AS d FROM predictions GROUP BY 1, 2, 3
                    UNION ALL SELECT workspace, model, version, 0, COUNT(*), 0 FROM labels GROUP BY 1, 2, 3
                    UNION ALL SELECT workspace, model, version, 0, 0, COUNT(*) FROM dataset_rows GROUP BY 1, 2, 3)
                GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
                """;
            var models = new List<EmulatorModelSummary>();
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                models.Add(new EmulatorModelSummary(
                    reader.GetString(0), reader.GetString(1), reader.GetString(2),
                    reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5)));
            }

            return models;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Predictions after <paramref name="after"/> in arrival order (newest first when <paramref name="newestFirst"/>).</summary>
    public async Task<IReadOnlyList<StoredRow>> GetPredictionsAsync(
        string? workspace, string? model, string? version, int limit, long after, bool newestFirst, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var command = _connection.CreateCommand();
            var sql = new StringBuilder("""
                SELECT p.seq, p.workspace, p.model, p.version, p.prediction_id, p.id_is_number, p.timestamp,
                       p.features, p.prediction, l.labels
                FROM predictions p LEFT JOIN labels l
                  ON l.workspace = p.workspace AND l.model = p.model AND l.version = p.version AND l.prediction_id = p.prediction_id
                WHERE p.seq > $after
                """);
            command.Parameters.AddWithValue("$after", after);
            AddFilter(command, sql, "p.workspace", "$ws", workspace);
            AddFilter(command, sql, "p.model", "$model", model);
            AddFilter(command, sql, "p.version", "$version", version);
            sql.Append(newestFirst ? " ORDER BY p.seq DESC" : " ORDER BY p.seq").Append(" LIMIT $limit");
            command.Parameters.AddWithValue("$limit", limit);
            command.CommandText = sql.ToString();

            var rows = new List<StoredRow>();
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                rows.Add(new StoredRow(
                    reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                    reader.GetString(4), reader.GetInt64(5) != 0, reader.GetInt64(6),
                    reader.IsDBNull(7) ? null : reader.GetString(7),
                    reader.IsDBNull(8) ? null : reader.GetString(8),
                    reader.IsDBNull(9) ? null : reader.GetString(9)));
            }

            return rows;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task ClearAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Execute("DELETE FROM predictions; DELETE FROM labels; DELETE FROM dataset_rows;");
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        _connection.Dispose();
        _gate.Dispose();
    }

    /// <summary>Merges the members of <paramref name="incoming"/> into <paramref name="existing"/> (both JSON objects).</summary>
    internal static string MergeObjects(string? existing, string incoming, bool incomingWins)
    {
        if (existing is null)
        {
            return incoming;
        }

        using var existingDoc = JsonDocument.Parse(existing);
        using var incomingDoc = JsonDocument.Parse(incoming);
        var merged = new List<KeyValuePair<string, JsonElement>>();
        var positions = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var property in existingDoc.RootElement.EnumerateObject())
        {
            positions[property.Name] = merged.Count;
            merged.Add(new(property.Name, property.Value));
        }

        foreach (var property in incomingDoc.RootElement.EnumerateObject())
        {
            if (positions.TryGetValue(property.Name, out var index))
            {
                if (incomingWins)
                {
                    merged[index] = new(property.Name, property.Value);
                }
            }
            else
            {
                positions[property.Name] = merged.Count;
                merged.Add(new(property.Name, property.Value));
            }
        }

        var buffer = new ArrayBufferWriter<byte>(existing.Length + incoming.Length);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (name, value) in merged)
            {
                writer.WritePropertyName(name);
                value.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void AddFilter(SqliteCommand command, StringBuilder sql, string column, string parameter, string? value)
    {
        if (value is not null)
        {
            sql.Append(CultureInfo.InvariantCulture, $" AND {column} = {parameter}");
            command.Parameters.AddWithValue(parameter, value);
        }
    }

    private WriteResult InsertPredictions(SqliteTransaction transaction, IReadOnlyList<IncomingEvent> events)
    {
        using var insert = _connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = """
            INSERT INTO predictions(workspace, model, version, prediction_id, id_is_number, timestamp, features, prediction)
            VALUES($ws, $model, $version, $id, $isNumber, $ts, $features, $prediction)
            ON CONFLICT DO NOTHING
            """;
        var parameters = new EventParameters(insert);
        insert.Prepare();

        var stored = 0;
        List<IncomingEvent>? inlineLabels = null;
        foreach (var e in events)
        {
            parameters.Bind(e);
            if (insert.ExecuteNonQuery() == 1)
            {
                stored++;
                if (e.Labels is not null)
                {
                    (inlineLabels ??= []).Add(e);
                }
            }
        }

        if (inlineLabels is not null)
        {
            // Labels sent later with a label event win over labels inline in the prediction.
            MergeLabels(transaction, inlineLabels, incomingWins: false);
        }

        return new WriteResult(stored, events.Count - stored);
    }

    private WriteResult MergeLabels(SqliteTransaction transaction, IReadOnlyList<IncomingEvent> events, bool incomingWins)
    {
        using var select = _connection.CreateCommand();
        select.Transaction = transaction;
        select.CommandText = "SELECT labels FROM labels WHERE workspace = $ws AND model = $model AND version = $version AND prediction_id = $id";
        var selectParameters = new EventParameters(select);
        select.Prepare();

        using var upsert = _connection.CreateCommand();
        upsert.Transaction = transaction;
        upsert.CommandText = """
            INSERT INTO labels(workspace, model, version, prediction_id, labels, timestamp)
            VALUES($ws, $model, $version, $id, $labels, $ts)
            ON CONFLICT(workspace, model, version, prediction_id) DO UPDATE SET labels = excluded.labels, timestamp = excluded.timestamp
            """;
        var upsertParameters = new EventParameters(upsert);
        upsert.Prepare();

        foreach (var e in events)
        {
            selectParameters.Bind(e);
            var existing = select.ExecuteScalar() as string;
            upsertParameters.Bind(e with { Labels = MergeObjects(existing, e.Labels ?? "{}", incomingWins) });
            upsert.ExecuteNonQuery();
        }

        return new WriteResult(events.Count, 0);
    }

    private WriteResult InsertDatasetRows(SqliteTransaction transaction, string datasetName, IReadOnlyList<IncomingEvent> events)
    {
        using var insert = _connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = """
            INSERT INTO dataset_rows(workspace, model, version, dataset_name, prediction_id, id_is_number, timestamp, features, prediction, labels)
            VALUES($ws, $model, $version, $dataset, $id, $isNumber, $ts, $features, $prediction, $labels)
            ON CONFLICT DO NOTHING
            """;
        insert.Parameters.AddWithValue("$dataset", datasetName);
        var parameters = new EventParameters(insert);
        insert.Prepare();

        var stored = 0;
        foreach (var e in events)
        {
            parameters.Bind(e);
            stored += insert.ExecuteNonQuery();
        }

        return new WriteResult(stored, events.Count - stored);
    }

    /// <summary>
    /// The parameters of an event a command's SQL names ($ws, $model, $version, $id, $isNumber, $ts, $features,
    /// $prediction, $labels), declared once and bound per event.
    /// </summary>
    private sealed class EventParameters
    {
        private readonly SqliteParameter? _ws;
        private readonly SqliteParameter? _model;
        private readonly SqliteParameter? _version;
        private readonly SqliteParameter? _id;
        private readonly SqliteParameter? _isNumber;
        private readonly SqliteParameter? _ts;
        private readonly SqliteParameter? _features;
        private readonly SqliteParameter? _prediction;
        private readonly SqliteParameter? _labels;

        public EventParameters(SqliteCommand command)
        {
            SqliteParameter? Declare(string name, SqliteType type) =>
                System.Text.RegularExpressions.Regex.IsMatch(command.CommandText, System.Text.RegularExpressions.Regex.Escape(name) + @"\b")
                    ? command.Parameters.Add(name, type)
                    : null;

            _ws = Declare("$ws", SqliteType.Text);
            _model = Declare("$model", SqliteType.Text);
            _version = Declare("$version", SqliteType.Text);
            _id = Declare("$id", SqliteType.Text);
            _isNumber = Declare("$isNumber", SqliteType.Integer);
            _ts = Declare("$ts", SqliteType.Integer);
            _features = Declare("$features", SqliteType.Text);
            _prediction = Declare("$prediction", SqliteType.Text);
            _labels = Declare("$labels", SqliteType.Text);
        }

        public void Bind(IncomingEvent e)
        {
            Set(_ws, e.Workspace);
            Set(_model, e.Model);
            Set(_version, e.Version);
            Set(_id, e.PredictionId);
            Set(_isNumber, e.PredictionIdIsNumber ? 1 : 0);
            Set(_ts, e.Timestamp);
            Set(_features, e.Features);
            Set(_prediction, e.Prediction);
            Set(_labels, e.Labels);
        }

        private static void Set(SqliteParameter? parameter, object? value)
        {
            if (parameter is not null)
            {
                parameter.Value = value ?? DBNull.Value;
            }
        }
    }

    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
