#!/usr/bin/env bash
# Driver benchmark: sets up tenantry_drivers (if needed), builds the harness, runs every variant
# and the pgbench pipelined limit interleaved, and prints one markdown table.
#
# Usage: bench/drivers/run.sh [SECONDS]            (default 10 s per run)
# Environment (all optional):
#   REPEATS          runs of each variant, interleaved; the table shows the mean   [2]
#   WARMUP           seconds of warm-up before each measured window               [2]
#   CONFIGS          space-separated variant:connections list                     [see below]
#   PGHOST_ADDR      PostgreSQL address (trust auth for postgres and drivers_app)  [127.0.0.1]
#   CARGO_TARGET_DIR                                                               [bench/drivers/target]
set -euo pipefail
cd "$(dirname "$0")"
here=$PWD
duration=${1:-10}
repeats=${REPEATS:-2}
warmup=${WARMUP:-2}
host=${PGHOST_ADDR:-127.0.0.1}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
configs=${CONFIGS:-"pgbench:64 pool:8 pool:16 pool:64 mux:2 mux:4 mux:8 xitca:1 xitca:2 xitca:4 sqlx:16 sqlx:64 pgbench:8"}
export DRIVERS_APP_URL="postgres://drivers_app@$host:5432/tenantry_drivers?sslmode=disable"
export DRIVERS_ADMIN_URL="postgres://postgres@$host:5432/tenantry_drivers?sslmode=disable"

psql_admin() { psql -h "$host" -U postgres -qAtX -v ON_ERROR_STOP=1 "$@"; }

if [ "$(psql_admin -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'tenantry_drivers'")" != 1 ] \
  || [ "$(psql_admin -d tenantry_drivers -c 'SELECT count(*) FROM projects' 2>/dev/null)" != 100000 ]; then
  echo "== setup.sql" >&2
  psql_admin -d postgres -f setup.sql >/dev/null
fi

echo "== cargo build --release" >&2
cargo build --release -q
bin=$CARGO_TARGET_DIR/release/tenantry-drivers-bench

read -r pg_t pg_p < <(psql_admin -d tenantry_drivers -F ' ' -c 'SELECT tenant_id, id FROM projects ORDER BY tenant_id, id LIMIT 1')
results=$(mktemp -d /tmp/drivers-bench.XXXXXX)
trap 'rm -rf "$results"' EXIT
busy=0

run_pgbench() { # clients
  local logdir=$results/pgb.$RANDOM
  mkdir -p "$logdir"
  local out cpu
  # bash's `time` reports the child's user and sys CPU (the client side of pgbench).
  out=$( { TIMEFORMAT='%U %S'; time pgbench -h "$host" -U drivers_app -n -M prepared -c "$1" -j 2 -T "$duration" \
      -D "t=$pg_t" -D "p=$pg_p" -f "$here/pgbench.sql" -l --log-prefix="$logdir/log" tenantry_drivers 2>&1; } 2>&1 )
  cpu=$(tail -n1 <<<"$out")
  local tps
  tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' <<<"$out")
  [ -n "$tps" ] || { echo "pgbench failed: $out" >&2; return 1; }
  # Per-transaction log: client xact time_us script epoch epoch_us.
  cat "$logdir"/log.* | awk '{print $3}' | sort -n | awk -v tps="$tps" -v cpu="$cpu" -v clients="$1" '
    { v[NR] = $1 }
    END {
      split(cpu, c, " ");
      printf "RESULT variant=pgbench conns=%d concurrency=%d requests=%d rps=%.0f p50_us=%.0f p99_us=%.0f cpu_us_per_req=%.1f wrong=0 missing=0 errors=0 probe_bad=0 probe_leaked=0\n",
        clients, clients, NR, tps, v[int(NR * 0.5) + 1], v[int(NR * 0.99) + 1], (c[1] + c[2]) * 1e6 / NR
    }'
  rm -rf "$logdir"
}

for r in $(seq 1 "$repeats"); do
  for cfg in $configs; do
    v=${cfg%%:*} n=${cfg##*:}
    if pgrep -x rustc >/dev/null 2>&1 || pgrep -x cc1plus >/dev/null 2>&1; then busy=1; fi
    echo "== run $r/$repeats: $v, $n connections (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    if [ "$v" = pgbench ]; then
      run_pgbench "$n" | tee -a "$results/all" >&2
    else
      "$bin" "$v" --conns "$n" --duration "$duration" --warmup "$warmup" | grep '^RESULT' | tee -a "$results/all" >&2
    fi
  done
done

echo
echo "$(date -u +%Y-%m-%d), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), PostgreSQL $(psql_admin -d postgres -c 'SHOW server_version' | cut -d' ' -f1), ${duration} s x ${repeats} runs, 64 in flight$( [ $busy = 1 ] && echo ', a compiler was running during some runs')"
echo
python3 - "$results/all" <<'EOF'
import sys, collections
labels = {
    "pgbench": "pgbench -M prepared, pipelined (1 Sync)",
    "pool": "A tokio-postgres 0.7 + deadpool, 4 Syncs",
    "mux": "B tokio-postgres multiplexed, 4 Syncs",
    "xitca": "C xitca-postgres 0.2.1 unsync pipeline, 1 Sync",
    "sqlx": "D sqlx raw_sql, simple protocol",
    "mux-nolock": "B without submit lock (negative control)",
    "xitca-sync": "C with a Sync per statement (negative control)",
}
runs = collections.OrderedDict()
for line in open(sys.argv[1]):
    kv = dict(f.split("=", 1) for f in line.split()[1:])
    runs.setdefault((kv["variant"], int(kv["conns"])), []).append(kv)
mean = lambda rs, k: sum(float(r[k]) for r in rs) / len(rs)
base = [mean(rs, "rps") for (v, _), rs in runs.items() if v == "pgbench"]
base = base[0] if base else None
print("| variant | connections | req/s (runs) | % of pgbench pipelined | p50 ms | p99 ms | client µs CPU/request | mismatches |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for (v, n), rs in runs.items():
    rps = mean(rs, "rps")
    each = " / ".join(f"{float(r['rps']):,.0f}" for r in rs)
    pct = f"{100 * rps / base:.0f}%" if base else "-"
    bad = sum(int(r[k]) for r in rs for k in ("wrong", "missing", "probe_bad", "probe_leaked"))
    errs = sum(int(r["errors"]) for r in rs)
    mm = f"{bad}" + (f" ({errs} errors)" if errs else "")
    print(f"| {labels.get(v, v)} | {n} | {rps:,.0f} ({each}) | {pct} | {mean(rs, 'p50_us') / 1000:.2f} | {mean(rs, 'p99_us') / 1000:.2f} | {mean(rs, 'cpu_us_per_req'):.1f} | {mm} |")
EOF
