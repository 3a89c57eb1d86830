# Shared set-up for the benchmark scripts: a release build and a database to measure in.
# Sourced, not run. Sets: pgsweep, bench_dir, DATABASE_URL; cleans up on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
bash ops/install-deps
swift build -c release 2>&1 | tail -n 1 >&2
bin_dir=$(swift build -c release --show-bin-path)
pgsweep="$bin_dir/pgsweep"
bench_dir=$(mktemp -d /tmp/pgsweep-bench.XXXXXX)
chmod 0755 "$bench_dir"
if [[ -z "${DATABASE_URL:-}" ]]; then
  eval "$(PGLOCAL_DURABLE=1 bash ops/pglocal start "$bench_dir/pg")"
  trap 'bash ops/pglocal destroy "$bench_dir/pg"; rm -rf "$bench_dir"' EXIT
  psql -qX -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -c "CREATE DATABASE bench" >/dev/null
  export DATABASE_URL="host=$PGHOST port=$PGPORT user=postgres dbname=bench"
else
  trap 'rm -rf "$bench_dir"' EXIT
fi

# Fresh processing_queue with :1 fixture rows, pgsweep's schema and the V007 indexes.
load_queue() {
  psql -qX -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "SET client_min_messages = warning" \
    -c "DROP SCHEMA IF EXISTS pgsweep CASCADE" -c "DROP TABLE IF EXISTS processing_queue" >/dev/null
  psql -qX -v ON_ERROR_STOP=1 "$DATABASE_URL" -f ops/sql/processing_queue.sql >/dev/null
  psql -qX -v ON_ERROR_STOP=1 -v rows="$1" "$DATABASE_URL" -f ops/sql/fixture_rows.sql >/dev/null
  printf 'database:\n  url: "%s"\n' "$DATABASE_URL" > "$bench_dir/schema.yaml"
  "$pgsweep" --config "$bench_dir/schema.yaml" --log-format json schema apply >/dev/null 2>&1
  psql -qX "$DATABASE_URL" -c "VACUUM ANALYZE processing_queue" >/dev/null
}

# p50 and p99 (ms) of pgbench per-transaction logs $@, only transactions ending in
# [$from, $to] (Unix seconds, fractional) when those are set.
percentiles() {
  python3 - "$@" <<'PY'
import os, sys
lo = float(os.environ.get("from", "0")); hi = float(os.environ.get("to", "1e12"))
lat = []
for path in sys.argv[1:]:
    for line in open(path):
        f = line.split()
        end = int(f[4]) + int(f[5]) / 1e6
        if lo <= end <= hi: lat.append(int(f[2]) / 1000)
lat.sort()
if not lat: print("0 0 0"); sys.exit()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print(f"{q(0.50):.2f} {q(0.99):.2f} {len(lat)}")
PY
}
