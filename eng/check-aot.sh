#!/usr/bin/env bash
# Native AOT check (not run by CI: it takes a few minutes): publishes a minimal API that uses CometMpm and
# CometMpm.AspNetCore from artifacts/packages with PublishAot=true and lists every trimming/AOT warning (IL2xxx,
# IL3xxx), marking those that come from our packages. Exits 1 when one of ours is found. Run
# tests/packaging/check-packages.sh first (it fills artifacts/packages). Needs clang and zlib1g-dev to link.
# Usage: eng/check-aot.sh [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(pwd)/artifacts/packages"
version="$(ls "$out"/CometMpm.[0-9]*.nupkg 2>/dev/null | sed -n 's/.*CometMpm\.\([0-9][^/]*\)\.nupkg$/\1/p')"
[ -n "$version" ] || { echo "check-aot: no packages in artifacts/packages; run tests/packaging/check-packages.sh first" >&2; exit 2; }
work="$(mktemp -d)"
[ "${1:-}" = "--keep" ] || trap 'rm -rf "$work"' EXIT

compiler="$(command -v clang || command -v clang-19 || command -v clang-16 || command -v clang-15 || command -v clang-14 || true)"
[ -n "$compiler" ] || { echo "check-aot: no clang on PATH (apt-get install -y clang zlib1g-dev)" >&2; exit 2; }

cat >"$work/NuGet.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources><add key="local-cometmpm" value="$out" /></packageSources>
  <config><add key="globalPackagesFolder" value="$work/packages" /></config>
  <fallbackPackageFolders><add key="machine-cache" value="$HOME/.nuget/packages" /></fallbackPackageFolders>
</configuration>
XML
cat >"$work/AotApi.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk.Web">
  <PropertyGroup>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <PublishAot>true</PublishAot>
    <InvariantGlobalization>true</InvariantGlobalization>
    <!-- Report each trimming warning, not one summary line per assembly. -->
    <TrimmerSingleWarn>false</TrimmerSingleWarn>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="CometMpm" Version="$version" />
    <PackageReference Include="CometMpm.AspNetCore" Version="$version" />
  </ItemGroup>
</Project>
XML
cat >"$work/Program.cs" <<'CS'
using System.Text.Json.Serialization;
using CometMpm;
using CometMpm.AspNetCore;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, AppJson.Default));
builder.Services.AddCometMpm(); // section CometMpm and COMET_* variables
builder.Services.AddCometMpmAspNetCore();
var app = builder.Build();

app.MapPost("/predict", (Flower flower) => new Species(flower.PetalLength < 2.5 ? "setosa" : "versicolor", 0.9)).WithCometMpm();
app.MapPost("/log", (Flower flower, ICometMpm mpm) =>
{
    var id = Guid.CreateVersion7().ToString();
    var result = mpm.LogEvent(id,
        new Dictionary<string, object?> { ["petal_length"] = flower.PetalLength },
        new Dictionary<string, object?> { ["value"] = "setosa" });
    return new Logged(id, result.IsAccepted);
});
app.MapCometMpmLabels();
app.Run();

internal sealed record Flower(double PetalLength, double PetalWidth);
internal sealed record Species(string Value, double Probability);
internal sealed record Logged(string Id, bool Accepted);

[JsonSerializable(typeof(Flower))]
[JsonSerializable(typeof(Species))]
[JsonSerializable(typeof(Logged))]
internal sealed partial class AppJson : JsonSerializerContext;
CS
echo "check-aot: publishing with PublishAot=true (C compiler/linker: $compiler) in $work"
set +e
(cd "$work" && dotnet publish -c Release -r linux-x64 -p:CppCompilerAndLinker="$compiler" --nologo -v minimal >"$work/publish.log" 2>&1)
rc=$?
set -e
grep -E 'warning (IL[0-9]+|IL[0-9]+)' "$work/publish.log" | sed 's/^ *//' | sort -u >"$work/warnings.txt" || true
ours="$(grep -E 'CometMpm' "$work/warnings.txt" || true)"
echo "check-aot: publish exit code $rc; $(wc -l <"$work/warnings.txt") distinct trimming/AOT warning(s); from our packages: $(grep -c . <<<"$ours" || true)"
cat "$work/warnings.txt"
if [ "$rc" -ne 0 ]; then
  grep -E 'error' "$work/publish.log" | sort -u | head -20
fi
[ -z "$ours" ] || { echo "check-aot: FAIL: warnings from our packages"; exit 1; }
[ "$rc" -eq 0 ] || { echo "check-aot: FAIL: publish failed (see above)"; exit 1; }
ls -la "$work/bin/Release/net10.0/linux-x64/publish/AotApi"
echo "check-aot: OK"
