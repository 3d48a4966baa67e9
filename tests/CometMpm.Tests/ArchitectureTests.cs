using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace CometMpm.Tests;

/// <summary>
/// The folders of src/CometMpm follow the stages and depend only downstream (ARCHITECTURE.md). A folder depends on
/// another when its code names an internal type declared there; public types are the library's contract and may be
/// named anywhere. The test reads the sources, builds the folder graph and fails on any cycle or oversized class.
/// </summary>
public sealed partial class ArchitectureTests(ITestOutputHelper output)
{
    private const int MaxLinesWithoutReason = 300;

    private static string SourceRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "CometMpm.AspNetCore.sln")))
        {
            directory = directory.Parent;
        }

        return Path.Combine(directory?.FullName ?? throw new DirectoryNotFoundException("repository root"), "src", "CometMpm");
    }

    private static IEnumerable<(string Folder, string Path, string Code)> Sources()
    {
        var root = SourceRoot();
        foreach (var path in Directory.GetFiles(root, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(root, path);
            if (relative.StartsWith("obj", StringComparison.Ordinal) || relative.StartsWith("bin", StringComparison.Ordinal))
            {
                continue;
            }

            var folder = relative.Contains(Path.DirectorySeparatorChar, StringComparison.Ordinal) ? relative[..relative.IndexOf(Path.DirectorySeparatorChar, StringComparison.Ordinal)] : "(root)";
            yield return (folder, relative, File.ReadAllText(path));
        }
    }

    /// <summary>Code without comments and string contents (a type named in a doc comment or a message is no dependency).</summary>
    private static string CodeOnly(string source) => Strings().Replace(Comments().Replace(source, " "), "\"\"");

    internal static Dictionary<string, HashSet<string>> FolderGraph()
    {
        var sources = Sources().ToList();
        var owner = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (folder, _, code) in sources)
        {
            foreach (Match match in Declaration().Matches(CodeOnly(code)))
            {
                if (!match.Groups["mods"].Value.Contains("public", StringComparison.Ordinal))
                {
                    owner.TryAdd(match.Groups["name"].Value, folder);
                }
            }
        }

        var graph = sources.Select(s => s.Folder).Distinct().ToDictionary(f => f, _ => new HashSet<string>(StringComparer.Ordinal));
        foreach (var (folder, _, code) in sources)
        {
            foreach (Match identifier in Identifier().Matches(CodeOnly(code)))
            {
                if (owner.TryGetValue(identifier.Value, out var target) && target != folder)
                {
                    graph[folder].Add(target);
                }
            }
        }

        return graph;
    }

    [Fact]
    public void SrcCometMpm_Folders_HaveNoDependencyCycle()
    {
        var graph = FolderGraph();
        foreach (var (folder, targets) in graph.OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            output.WriteLine($"{folder} -> {string.Join(", ", targets.Order(StringComparer.Ordinal))}");
        }

        var cycles = new List<string>();
        foreach (var start in graph.Keys)
        {
            // A path from a target of start back to start closes a cycle.
            foreach (var next in graph[start])
            {
                if (PathBetween(graph, next, start) is { } path)
                {
                    cycles.Add(start + " -> " + string.Join(" -> ", path));
                }
            }
        }

        Assert.True(cycles.Count == 0, "Folder cycles:\n" + string.Join("\n", cycles.Distinct()));
    }

    [Fact]
    public void SrcCometMpm_Classes_StayUnder300LinesOrSayWhy()
    {
        var tooLong = Sources()
            .Where(s => s.Code.Split('\n').Length > MaxLinesWithoutReason && !s.Code.Contains("<remarks>Over 300 lines because", StringComparison.Ordinal))
            .Select(s => $"{s.Path}: {s.Code.Split('\n').Length} lines")
            .ToList();
        Assert.True(tooLong.Count == 0, string.Join("\n", tooLong));
    }

    private static List<string>? PathBetween(Dictionary<string, HashSet<string>> graph, string from, string to)
    {
        var previous = new Dictionary<string, string?> { [from] = null };
        var queue = new Queue<string>([from]);
        while (queue.TryDequeue(out var node))
        {
            if (node == to)
            {
                var path = new List<string>();
                for (string? at = to; at is not null; at = previous[at])
                {
                    path.Insert(0, at);
                }

                return path;
            }

            foreach (var next in graph[node])
            {
                if (previous.TryAdd(next, node))
                {
                    queue.Enqueue(next);
                }
            }
        }

        return null;
    }

    [GeneratedRegex(@"^[ \t]*(?<mods>(?:(?:public|internal|private|protected|file|sealed|static|abstract|readonly|partial|ref|unsafe)\s+)*)(?:record\s+struct|record\s+class|class|struct|record|interface|enum)\s+(?<name>[A-Z]\w*)", RegexOptions.Multiline)]
    private static partial Regex Declaration();

    // A name after a dot is a member (options.Outbox), not the type of that name.
    [GeneratedRegex(@"(?<![.\w])[A-Z]\w*\b")]
    private static partial Regex Identifier();

    [GeneratedRegex(@"//[^\n]*|/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex Comments();

    [GeneratedRegex(@"@?\$?""(?:[^""\\\n]|\\.)*""")]
    private static partial Regex Strings();
}
