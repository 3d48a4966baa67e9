using System.Data;

namespace CometMpm.Datasets.Tests.Infrastructure;

/// <summary>An <see cref="IDataReader"/> that makes its rows on demand (id, amount, country, score, ts): nothing is held.</summary>
public sealed class GeneratedReader(long rows) : IDataReader
{
    private static readonly string[] Names = ["id", "amount", "country", "score", "ts"];
    private static readonly string[] Countries = ["PT", "DE", "US", "BR"];
    private long _row = -1;

    public Action<long>? OnRow { get; set; }

    public int FieldCount => Names.Length;

    public object this[int i] => GetValue(i);

    public object this[string name] => GetValue(GetOrdinal(name));

    public int Depth => 0;

    public bool IsClosed { get; private set; }

    public int RecordsAffected => -1;

    public bool Read()
    {
        if (++_row >= rows)
        {
            return false;
        }

        OnRow?.Invoke(_row);
        return true;
    }

    public object GetValue(int i) => i switch
    {
        0 => "row-" + _row,
        1 => _row % 1000 == 999 ? DBNull.Value : (_row % 500) * 1.25,
        2 => Countries[_row % Countries.Length],
        3 => (_row % 100) / 100.0,
        4 => 1713006000.0 + _row,
        _ => throw new IndexOutOfRangeException(),
    };

    public string GetName(int i) => Names[i];

    public int GetOrdinal(string name) => Array.IndexOf(Names, name);

    public void Close() => IsClosed = true;

    public void Dispose() => Close();

    public bool NextResult() => false;

    public DataTable? GetSchemaTable() => null;

    public bool GetBoolean(int i) => (bool)GetValue(i);

    public byte GetByte(int i) => (byte)GetValue(i);

    public long GetBytes(int i, long fieldOffset, byte[]? buffer, int bufferoffset, int length) => throw new NotSupportedException();

    public char GetChar(int i) => (char)GetValue(i);

    public long GetChars(int i, long fieldoffset, char[]? buffer, int bufferoffset, int length) => throw new NotSupportedException();

    public IDataReader GetData(int i) => throw new NotSupportedException();

    public string GetDataTypeName(int i) => GetFieldType(i).Name;

    public DateTime GetDateTime(int i) => (DateTime)GetValue(i);

    public decimal GetDecimal(int i) => (decimal)GetValue(i);

    public double GetDouble(int i) => (double)GetValue(i);

    public Type GetFieldType(int i) => i is 0 or 2 ? typeof(string) : typeof(double);

    public float GetFloat(int i) => (float)GetValue(i);

    public Guid GetGuid(int i) => (Guid)GetValue(i);

    public short GetInt16(int i) => (short)GetValue(i);

    public int GetInt32(int i) => (int)GetValue(i);

    public long GetInt64(int i) => (long)GetValue(i);

    public string GetString(int i) => (string)GetValue(i);

    public bool IsDBNull(int i) => GetValue(i) is DBNull;

    public int GetValues(object[] values)
    {
        for (var i = 0; i < Names.Length; i++)
        {
            values[i] = GetValue(i);
        }

        return Names.Length;
    }
}
