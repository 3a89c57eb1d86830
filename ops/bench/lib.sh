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

# Fresh processing_queue with $1 fixture rows, pgsweep's schema and the V007 indexes (the
# benchmarks' own tables dropped).
load_queue() {
  psql -qX -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "SET client_min_messages = warning" \
    -c "DROP SCHEMA IF EXISTS pgsweep CASCADE" -c "DROP TABLE IF EXISTS processing_queue, pristine, restore_a, restore_b" >/dev/null
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

# psql, quiet and unaligned, stopping at the first error.
q() { psql -qXAt -v ON_ERROR_STOP=1 "$DATABASE_URL" "$@"; }

# Keeps the loaded table as it is now (its rows ordered by $1 when given) for reset_table.
save_pristine() { q -c "CREATE TABLE pristine AS SELECT * FROM processing_queue${1:+ ORDER BY $1}" >/dev/null; }

# The table as save_pristine kept it, pgsweep's run history and ledger emptied; vacuumed,
# analyzed and checkpointed, so no measurement pays for an earlier one's dirty pages.
reset_table() {
  q -c "TRUNCATE processing_queue" -c "INSERT INTO processing_queue SELECT * FROM pristine" \
    -c "TRUNCATE pgsweep.job_runs, pgsweep.archive_batches CASCADE" >/dev/null
  q -c "VACUUM ANALYZE processing_queue" -c "CHECKPOINT" >/dev/null
}

# The median of the numbers given.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# The seed's claim query (LIMIT 100, rolled back so pending rows last), for pgbench.
write_claim_script() {
  cat > "$bench_dir/claim.sql" <<'SQL'
\set f random(1, 5)
BEGIN;
UPDATE processing_queue
SET status = 'processing', flow_instance_id = 'bench-worker', claimed_at = NOW()
WHERE id IN (
    SELECT id FROM processing_queue
    WHERE flow_name = (ARRAY['email-send', 'video-transcode', 'invoice-render', 'webhook-deliver', 'thumbnail'])[:f]
      AND status = 'pending'
    ORDER BY created_at ASC
    LIMIT 100
    FOR UPDATE SKIP LOCKED
)
RETURNING id, payload, retry_count, created_at;
ROLLBACK;
SQL
}

# claim_window SECONDS COMMAND: on a table just reset (reset_table), pgbench runs
# the claim query with $BENCH_CLIENTS (2) clients for SECONDS; COMMAND starts 2 s in. Sets window_p50,
# window_p99 (ms), window_n (claims) and window_seconds for the claims that ended while
# COMMAND ran.
claim_window() {
  local seconds=$1 command=$2 prefix pid from to
  reset_table
  [[ -f "$bench_dir/claim.sql" ]] || write_claim_script
  prefix="window$RANDOM"
  (cd "$bench_dir" && exec pgbench -n -c "${BENCH_CLIENTS:-2}" -j "${BENCH_CLIENTS:-2}" -T "$seconds" -f claim.sql -l --log-prefix="$prefix" "$DATABASE_URL" >/dev/null 2>&1) &
  pid=$!
  sleep 2   # let pgbench settle before COMMAND starts (a benchmark phase, not a test wait)
  from=$(date +%s.%N)
  bash -c "$command"
  to=$(date +%s.%N)
  wait "$pid"
  read -r window_p50 window_p99 window_n < <(from=$from to=$to percentiles "$bench_dir/$prefix".*)
  window_seconds=$(python3 -c "print(round($to - $from, 2))")
  rm -f "$bench_dir/$prefix".*
}

# claim_ratio SECONDS COMMAND: claim latency while COMMAND runs, next to the same window of
# a run where nothing else runs (both from a freshly reset table, since the claims
# themselves leave dead rows that slow later claims); BENCH_REPEATS (3) pairs, since a
# window of a few seconds holds only a few thousand claims. Prints one line with the median
# p99 ratio; sets ratio_p99 and ratio_seconds (how long COMMAND ran, the last time).
claim_ratio() {
  local ratios=() runs=() b50 b99 bn duration
  for _ in $(seq "${BENCH_REPEATS:-3}"); do
    claim_window "$1" "$2"
    b50=$window_p50 b99=$window_p99 bn=$window_n duration=$window_seconds
    claim_window "$1" "sleep $duration"
    ratios+=("$(python3 -c "print(round($b99 / $window_p99, 2))")")
    runs+=("$window_p50/$window_p99 -> $b50/$b99 ms ($bn claims in $duration s)")
  done
  ratio_p99=$(median "${ratios[@]}")
  ratio_seconds=$duration
  echo -n "p99 ratio $ratio_p99 (median of ${ratios[*]}; p50/p99 alone -> during: $(IFS=';'; echo "${runs[*]}"))"
}
