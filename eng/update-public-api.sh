#!/usr/bin/env bash
# Brings src/*/PublicAPI.Unshipped.txt in line with the code, from the PublicApiAnalyzers' own diagnostics (the
# analyzer's code fix is not available from the command line): symbols reported by RS0016 (public but not declared)
# are added, lines reported by RS0017 (declared but no longer public) are removed. Review the diff, then build.
# Usage: eng/update-public-api.sh [project-name ...]   (default: every library under src/ with a PublicAPI.Shipped.txt)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$#" -gt 0 ]; then projects=("$@"); else
  projects=()
  for f in src/*/PublicAPI.Shipped.txt; do projects+=("$(basename "$(dirname "$f")")"); done
fi

for project in "${projects[@]}"; do
  dir="src/$project"
  unshipped="$dir/PublicAPI.Unshipped.txt"
  [ -f "$dir/PublicAPI.Shipped.txt" ] || printf '#nullable enable\n' >"$dir/PublicAPI.Shipped.txt"
  [ -f "$unshipped" ] || printf '#nullable enable\n' >"$unshipped"
  log="$(mktemp)"
  dotnet build "$dir" --no-incremental --nologo -v quiet -p:TreatWarningsAsErrors=false -p:WarningsAsErrors= >"$log" 2>&1 || true
  python3 - "$log" "$unshipped" "$project" <<'PY'
import re, sys
log, unshipped, project = sys.argv[1:]
mine = [l for l in open(log, encoding="utf-8") if l.rstrip().endswith(f"/{project}.csproj]")]
add = {m.group(1) for l in mine for m in [re.search(r"warning RS0016: Symbol '(.*)' is not part of the declared public API", l)] if m}
remove = {m.group(1) for l in mine for m in [re.search(r"warning RS0017: Symbol '(.*)' is part of the declared API, but is either not public or could not be found", l)] if m}
errors = [l.strip() for l in mine if re.search(r": error ", l)]
if errors:
    sys.exit(f"{project}: the build has errors:\n" + "\n".join(sorted(set(errors))[:20]))
lines = [l.rstrip("\n") for l in open(unshipped, encoding="utf-8") if l.strip() and not l.startswith("#nullable")]
entries = sorted((set(lines) - remove) | add, key=lambda s: s.encode())  # ordinal order, as the analyzer's fixer writes them
open(unshipped, "w", encoding="utf-8", newline="\n").write("#nullable enable\n" + "".join(e + "\n" for e in entries))
print(f"{project}: {len(add)} added, {len(remove & set(lines))} removed, {len(entries)} entries in {unshipped}")
PY
  rm -f "$log"
done
