#!/usr/bin/env bash
# Packs the six packages (four libraries, two tools) into artifacts/packages and proves they are complete and usable:
#  1. each .nupkg has its README, LICENSE, MIT licence expression, repository URL and commit; each library has its
#     XML docs; each .snupkg has a PDB whose SourceLink points at the repository;
#  2. a fresh web project in a temp dir (NuGet.config: the local folder plus the usual sources) references the three
#     client libraries, restores them from that folder and builds with warnings as errors;
#  3. the two tools install from that folder: comet-mpm-emulator starts, and comet-mpm ping reaches it;
#  4. the README's minimal Program.cs, copied verbatim into another fresh project, builds, starts, captures a prediction
#     into that emulator, takes a label and answers /health;
#  5. the README's test snippet, copied verbatim into a fresh xunit project referencing the CometMpm and
#     CometMpm.Emulator packages, passes under dotnet test: the emulator started in-process receives the logged event.
# Usage: tests/packaging/check-packages.sh   (CI runs it through .ci/run, after the solution's build and tests)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$(pwd)"
out="$repo/artifacts/packages"
work="$(mktemp -d)"
emulator_pid=""
cleanup() {
  if [ -n "$emulator_pid" ] && kill -0 "$emulator_pid" 2>/dev/null; then
    kill "$emulator_pid" 2>/dev/null || true
    wait "$emulator_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "check-packages: FAIL: $*" >&2; exit 1; }

libraries=(CometMpm CometMpm.AspNetCore CometMpm.DataAnalysis CometMpm.Emulator)
tools=(CometMpm.Emulator.Tool CometMpm.Cli)
client_libraries=(CometMpm CometMpm.AspNetCore CometMpm.DataAnalysis) # what a web app references (step 2)

# 1. Pack (Release). The version comes from Directory.Build.props.
rm -rf "$out"
mkdir -p "$out"
for project in "${libraries[@]}" "${tools[@]}"; do
  dotnet pack "src/$project" -c Release -o "$out" --nologo -v quiet -warnaserror >"$work/pack-$project.log" 2>&1 \
    || { cat "$work/pack-$project.log"; fail "dotnet pack src/$project failed"; }
done
version="$(ls "$out"/CometMpm.[0-9]*.nupkg | sed -n 's/.*CometMpm\.\([0-9][^/]*\)\.nupkg$/\1/p')"
[ -n "$version" ] || fail "no CometMpm package in $out"
nupkgs=$(ls "$out"/*.nupkg | wc -l)
snupkgs=$(ls "$out"/*.snupkg | wc -l)
expected=$(( ${#libraries[@]} + ${#tools[@]} ))
[ "$nupkgs" -eq "$expected" ] && [ "$snupkgs" -eq "$expected" ] \
  || fail "expected $expected .nupkg and $expected .snupkg, found $nupkgs and $snupkgs: $(ls "$out")"
echo "check-packages: packed $nupkgs packages and $snupkgs symbol packages, version $version, into artifacts/packages"

for id in "${libraries[@]}" "${tools[@]}"; do
  pkg="$out/$id.$version.nupkg"
  [ -f "$pkg" ] || fail "$id.$version.nupkg is missing"
  files="$(unzip -Z1 "$pkg")"
  nuspec="$(unzip -p "$pkg" "$id.nuspec")"
  grep -qx 'README.md' <<<"$files" || fail "$id has no README.md"
  grep -qx 'LICENSE' <<<"$files" || fail "$id has no LICENSE file"
  grep -q '<readme>README.md</readme>' <<<"$nuspec" || fail "$id's nuspec names no readme"
  grep -q '<license type="expression">MIT</license>' <<<"$nuspec" || fail "$id's nuspec has no MIT licence"
  grep -q '<repository type="git" url="https://github.com/[^"]*"[^>]* commit="[0-9a-f]\{40\}"' <<<"$nuspec" \
    || fail "$id's nuspec has no repository URL with a commit: $(grep -o '<repository[^>]*>' <<<"$nuspec" || true)"
  if [[ " ${libraries[*]} " == *" $id "* ]]; then
    grep -qx "lib/net10.0/$id.dll" <<<"$files" || fail "$id has no lib/net10.0/$id.dll"
    grep -qx "lib/net10.0/$id.xml" <<<"$files" || fail "$id has no XML documentation"
    pdb_dir="lib/net10.0"
  else
    grep -qx 'tools/net10.0/any/DotnetToolSettings.xml' <<<"$files" || fail "$id is not a dotnet tool package"
    pdb_dir="tools/net10.0/any"
  fi
  mkdir -p "$work/sym/$id"
  unzip -q -o "$out/$id.$version.snupkg" -d "$work/sym/$id"
  pdb="$work/sym/$id/$pdb_dir/$id.pdb"
  [ -f "$pdb" ] || fail "$id's symbol package has no $pdb_dir/$id.pdb"
  grep -a -q 'https://raw.githubusercontent.com/[^"]*/[0-9a-f]\{40\}/\*' "$pdb" || fail "$id's PDB has no SourceLink to the repository"
done
echo "check-packages: every package has README, LICENSE, MIT licence, repository URL and commit, XML docs (libraries), SourceLink'd PDB"

# 2. A fresh project that uses the three client libraries from the local folder. Its packages go to a private folder
#    (with the machine's caches as read-only fallbacks for the third-party ones), so a stale copy of ours is never used.
for id in "${libraries[@]}"; do
  lower="$(tr '[:upper:]' '[:lower:]' <<<"$id")"
  if [ -d "$HOME/.nuget/packages/$lower/$version" ]; then
    echo "check-packages: removing a cached $id $version from ~/.nuget/packages (it would shadow the new package)"
    rm -rf "$HOME/.nuget/packages/$lower/$version"
  fi
done
app="$work/app"
mkdir -p "$app" "$work/packages"
offline_cache="" # the test SDK packages some machines keep here (step 5)
if [ -d /opt/nuget/packages ]; then offline_cache='<add key="offline-cache" value="/opt/nuget/packages" />'; fi
cat >"$work/NuGet.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="local-cometmpm" value="$out" />
  </packageSources>
  <config>
    <add key="globalPackagesFolder" value="$work/packages" />
  </config>
  <fallbackPackageFolders>
    <add key="machine-cache" value="$HOME/.nuget/packages" />
    $offline_cache
  </fallbackPackageFolders>
</configuration>
XML
cat >"$app/PackageConsumer.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk.Web">
  <PropertyGroup>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
    <GenerateDocumentationFile>true</GenerateDocumentationFile>
    <NoWarn>\$(NoWarn);CS1591</NoWarn>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="CometMpm" Version="$version" />
    <PackageReference Include="CometMpm.AspNetCore" Version="$version" />
    <PackageReference Include="CometMpm.DataAnalysis" Version="$version" />
  </ItemGroup>
</Project>
XML
cat >"$app/Program.cs" <<'CS'
using CometMpm;
using CometMpm.AspNetCore;
using Microsoft.Data.Analysis;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddCometMpm(o =>
{
    o.ApiKey = "key";
    o.WorkspaceName = "ws";
    o.ModelName = "model";
    o.ModelVersion = "1.0.0";
});
builder.Services.AddCometMpmAspNetCore(o => o.SampleRate = 1.0);
var app = builder.Build();

app.MapPost("/score", (Input input) => new Output(input.X > 0 ? "yes" : "no", 0.9)).WithCometMpm();
var api = app.MapGroup("/v2").WithCometMpmAttributes();
api.MapPost("/score", [CometMpmPrediction] (Input input) => new Output("yes", 0.5));
app.MapCometMpmLabels();
app.MapPost("/frame", async (ICometMpm mpm) =>
{
    var frame = new DataFrame(new StringDataFrameColumn("id", ["a"]), new DoubleDataFrameColumn("x", [1.0]));
    var result = await mpm.LogDataFrameAsync(frame, new RowColumns("id") { FeatureColumns = ["x"] });
    return result.Logged;
});
app.MapPost("/rows", async (ICometMpm mpm) =>
    (await mpm.LogRowsAsync(new[] { new Input(1) }, new RowMapping<Input>(_ => Guid.NewGuid()).Feature("x", r => r.X))).Logged);
app.Run();

internal sealed record Input(double X);
internal sealed record Output(string Value, double Probability);
CS
cp "$work/NuGet.config" "$app/NuGet.config"
(cd "$app" && dotnet build --nologo -v quiet >"$work/consumer.log" 2>&1) || { cat "$work/consumer.log"; fail "the fresh project does not build against the packages"; }
# The libraries were restored from artifacts/packages, not from anywhere else: compare the hashes.
assert_restored_from_artifacts() {
  local id lower restored
  for id in "$@"; do
    lower="$(tr '[:upper:]' '[:lower:]' <<<"$id")"
    restored="$work/packages/$lower/$version/$lower.$version.nupkg"
    [ -f "$restored" ] || fail "$id $version was not restored into the project's package folder"
    cmp -s "$restored" "$out/$id.$version.nupkg" || fail "$id $version was restored from somewhere other than artifacts/packages"
  done
}
assert_restored_from_artifacts "${client_libraries[@]}"
echo "check-packages: a fresh project restored CometMpm, CometMpm.AspNetCore and CometMpm.DataAnalysis $version from artifacts/packages and built (warnings as errors)"

# 3. The tools install from the folder and run.
dotnet tool install CometMpm.Emulator.Tool --version "$version" --tool-path "$work/tools" --configfile "$work/NuGet.config" >"$work/tool1.log" 2>&1 \
  || { cat "$work/tool1.log"; fail "the emulator tool does not install"; }
dotnet tool install CometMpm.Cli --version "$version" --tool-path "$work/tools" --configfile "$work/NuGet.config" >"$work/tool2.log" 2>&1 \
  || { cat "$work/tool2.log"; fail "the CLI tool does not install"; }
for flag in --help --version; do # print and exit 0, starting nothing (a server would hang here; the timeout fails it)
  timeout 60 "$work/tools/comet-mpm-emulator" "$flag" >"$work/emulator-flag.log" 2>&1 \
    || { cat "$work/emulator-flag.log"; fail "comet-mpm-emulator $flag did not exit 0"; }
  ! grep -q 'Comet MPM emulator: page' "$work/emulator-flag.log" || fail "comet-mpm-emulator $flag started a server"
done
grep -q "^$version\$" "$work/emulator-flag.log" || { cat "$work/emulator-flag.log"; fail "comet-mpm-emulator --version did not print $version"; }
"$work/tools/comet-mpm-emulator" --urls http://127.0.0.1:0 >"$work/emulator.log" 2>&1 &
emulator_pid=$!
root=""
for _ in $(seq 1 150); do
  root="$(sed -n 's/.*COMET_URL_OVERRIDE=\(http[^ ]*\).*/\1/p' "$work/emulator.log" | head -n 1)"
  [ -n "$root" ] && break
  kill -0 "$emulator_pid" 2>/dev/null || { cat "$work/emulator.log"; fail "comet-mpm-emulator exited"; }
  sleep 0.2
done
[ -n "$root" ] || { cat "$work/emulator.log"; fail "comet-mpm-emulator did not print its address"; }
COMET_API_KEY=check COMET_URL_OVERRIDE="$root" "$work/tools/comet-mpm" ping >"$work/ping.log" 2>&1 \
  || { cat "$work/ping.log"; fail "comet-mpm ping against the installed emulator failed"; }
echo "check-packages: comet-mpm-emulator and comet-mpm installed from artifacts/packages; comet-mpm ping reached the emulator at $root"

# 4. The README's minimal Program.cs, copied verbatim into a fresh project (next to the user's own Iris types), builds
#    against the packages, starts, captures a prediction into the installed emulator and answers /health.
readme_app="$work/readme-app"
mkdir -p "$readme_app"
cp "$work/NuGet.config" "$readme_app/NuGet.config"
sed -e 's/PackageConsumer/ReadmeApp/' -e '/CometMpm.DataAnalysis/d' "$app/PackageConsumer.csproj" >"$readme_app/ReadmeApp.csproj"
awk '/^## A minimal Program.cs/{section=1} section && /^```csharp/{copy=1; next} copy && /^```/{exit} copy' README.md >"$readme_app/Program.cs"
grep -q 'AddCometMpm()' "$readme_app/Program.cs" || fail "could not extract the README's Program.cs"
sed -i '1i using CometMpm.AspNetCore;' "$readme_app/Program.cs"
cat >"$readme_app/Iris.cs" <<'CS'
using System.Text.Json.Serialization;

internal sealed record Iris(
    [property: JsonPropertyName("sepal_length")] float SepalLength,
    [property: JsonPropertyName("sepal_width")] float SepalWidth,
    [property: JsonPropertyName("petal_length")] float PetalLength,
    [property: JsonPropertyName("petal_width")] float PetalWidth);

internal sealed record IrisPrediction(string Species, float Probability);

internal sealed class IrisModel
{
    public IrisPrediction Predict(Iris input) => new(input.PetalLength < 2.5f ? "setosa" : "versicolor", 0.97f);
}
CS
(cd "$readme_app" && dotnet build --nologo -v quiet >"$work/readme-app.log" 2>&1) || { cat "$work/readme-app.log"; fail "the README's Program.cs does not build in a fresh project"; }
(cd "$readme_app" && COMET_API_KEY=check COMET_URL_OVERRIDE="$root" COMET_MPM_WORKSPACE_NAME=readme COMET_MPM_MODEL_NAME=iris \
  COMET_MPM_MODEL_VERSION=1 COMET_MPM_MAX_BATCH_TIME=1 ASPNETCORE_URLS=http://127.0.0.1:0 exec dotnet bin/Debug/net10.0/ReadmeApp.dll >"$work/readme-run.log" 2>&1) &
readme_pid=$!
readme_url=""
for _ in $(seq 1 150); do
  readme_url="$(sed -n 's/.*Now listening on: \(http:[^ ]*\).*/\1/p' "$work/readme-run.log" | head -n 1)"
  [ -n "$readme_url" ] && break
  kill -0 "$readme_pid" 2>/dev/null || { cat "$work/readme-run.log"; fail "the README's app exited"; }
  sleep 0.2
done
[ -n "$readme_url" ] || { cat "$work/readme-run.log"; fail "the README's app did not say where it listens"; }
health="$(curl -s -o /dev/null -w '%{http_code}' "$readme_url/health")"
id="$(curl -s -D - -o /dev/null -X POST "$readme_url/predict" -H 'Content-Type: application/json' \
  -d '{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}' | tr -d '\r' | awk -F': ' 'tolower($1)=="x-prediction-id"{print $2}')"
label="$(curl -s -o /dev/null -w '%{http_code}' -X POST "$readme_url/predictions/$id/labels" -H 'Content-Type: application/json' -d '{"species":"setosa"}')"
stored=""
for _ in $(seq 1 50); do
  stored="$(curl -s "$root/api/emulator/models" | grep -o '"model":"iris"[^}]*"predictions":[0-9]*' | grep -o '[0-9]*$' | head -n 1 || true)"
  [ "${stored:-0}" -ge 1 ] && break
  sleep 0.2
done
kill "$readme_pid" 2>/dev/null || true
wait "$readme_pid" 2>/dev/null || true
[ "$health" = "200" ] || { cat "$work/readme-run.log"; fail "the README's app answered /health with $health"; }
[ -n "$id" ] || { cat "$work/readme-run.log"; fail "the README's app returned no X-Prediction-Id"; }
[ "$label" = "202" ] || { cat "$work/readme-run.log"; fail "the README's labels endpoint answered $label"; }
[ "${stored:-0}" -ge 1 ] || { cat "$work/readme-run.log"; fail "the emulator stored no prediction from the README's app"; }
echo "check-packages: the README's Program.cs built and ran in a fresh project: /health 200, prediction $id captured into the emulator, label 202"

# 5. The README's test snippet, copied verbatim into a fresh xunit project (test packages at the repository's
#    versions) that references CometMpm and CometMpm.Emulator from the local folder, passes: the snippet starts the
#    emulator in-process, logs an event through a client pointed at it and asserts that the event arrived.
tests_app="$work/readme-tests"
mkdir -p "$tests_app"
cp "$work/NuGet.config" "$tests_app/NuGet.config"
repo_version() {
  local v
  v="$(sed -n "s/.*<PackageVersion Include=\"$1\" Version=\"\([^\"]*\)\".*/\1/p" Directory.Packages.props)"
  [ -n "$v" ] || fail "Directory.Packages.props has no version for $1"
  echo "$v"
}
cat >"$tests_app/ReadmeTests.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <IsPackable>false</IsPackable>
    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Microsoft.NET.Test.Sdk" Version="$(repo_version Microsoft.NET.Test.Sdk)" />
    <PackageReference Include="xunit" Version="$(repo_version xunit)" />
    <PackageReference Include="xunit.runner.visualstudio" Version="$(repo_version xunit.runner.visualstudio)" />
    <PackageReference Include="CometMpm" Version="$version" />
    <PackageReference Include="CometMpm.Emulator" Version="$version" />
  </ItemGroup>
</Project>
XML
awk '/^- In your tests/{section=1} section && /^```csharp/{copy=1; next} copy && /^```/{exit} copy' README.md >"$tests_app/MonitoringTests.cs"
grep -q 'await using var emulator = await MpmEmulator.StartAsync();' "$tests_app/MonitoringTests.cs" \
  || fail "could not extract the README's test snippet (the csharp block after '- In your tests')"
(cd "$tests_app" && dotnet test --nologo >"$work/readme-tests.log" 2>&1) \
  || { cat "$work/readme-tests.log"; fail "the README's test snippet does not pass in a fresh xunit project"; }
grep -Eq 'Passed: +[1-9]' "$work/readme-tests.log" || { cat "$work/readme-tests.log"; fail "the README's test snippet ran no test"; }
assert_restored_from_artifacts CometMpm CometMpm.Emulator
echo "check-packages: the README's test snippet passed in a fresh xunit project on CometMpm and CometMpm.Emulator $version from artifacts/packages"
echo "check-packages: OK"
