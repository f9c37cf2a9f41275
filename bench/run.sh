#!/usr/bin/env bash
# The benchmark, in one command: seeds PostgreSQL, builds and starts a release
# server (with the `bench` comparison variants), runs closed-loop (wrk) and
# open-loop (oha) loads and the pgbench limits, and prints one table
# (bench/report.py); raw figures land in bench/results/results.json.
#
# Environment (all optional):
#   BENCH_PG        admin URL without a database   [postgres://postgres@127.0.0.1:5432]
#   BENCH_DURATION  seconds per closed-loop run     [10]
#   BENCH_REPEAT    runs of each load, interleaved; the table shows medians [3]
#   BENCH_SETS      data sets to run                ["1k 100k sqlite schema schema2k database limits"]
#                   (limits: the request budgets' cost, on the 1k data set;
#                   idempotency: creates with and without an Idempotency-Key)
#   BENCH_RESEED=1  drop and seed the data sets again
#   BENCH_REDIS     Redis for the revocation broadcast [redis://127.0.0.1:6379]; "none" runs without
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/bench/results
mkdir -p "$out"
pg=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
duration=${BENCH_DURATION:-10}
repeat=${BENCH_REPEAT:-3}
sets=${BENCH_SETS:-"1k 100k sqlite schema schema2k database limits"}
port=18480
conns=64
threads=2
role=tenantry_app
export TENANTRY_SECRET=${TENANTRY_SECRET:-bench-secret-0123456789abcdef0123456789abcdef}
export TENANTRY_DATA_DIR=$out/data
export TENANTRY_LOG=warn
# The request budgets are off unless a run measures them (the figures are
# the request path's own).
export TENANTRY_RATE_LIMIT=${TENANTRY_RATE_LIMIT:-off}
export TENANTRY_RATE_LIMIT_ANONYMOUS=${TENANTRY_RATE_LIMIT_ANONYMOUS:-off}
redis=${BENCH_REDIS:-redis://127.0.0.1:6379}
if [ "$redis" != none ] && ! redis-cli -u "$redis" ping 2>/dev/null | grep -q PONG; then
  echo "== Redis at $redis is unreachable: running without it (key lookups cached 1 s)" >&2
  redis=none
fi
if [ "$redis" != none ]; then
  export REDIS_URL=$redis
  export TENANTRY_REDIS_PREFIX=bench-$$:
fi

need() { command -v "$1" >/dev/null 2>&1; }
need wrk || { apt-get update -qq && apt-get install -y -qq wrk; }
need oha || cargo install oha --version 1.16.0 --locked
need pgbench || { apt-get update -qq && apt-get install -y -qq postgresql-client; }
need psql

echo "== building the release server (features: bench)" >&2
cargo build --release --features bench -q
bin=$root/target/release/tenantry
psql_admin() { psql "$pg/postgres" -qAtX -v ON_ERROR_STOP=1 "$@"; }

seed() { # name tenants projects [placement]
  local db=tenantry_bench_$1
  local keys=$out/keys-$1.tsv
  if [ "${BENCH_RESEED:-0}" != 1 ] && [ -s "$keys" ] && [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" = 1 ]; then
    return
  fi
  echo "== seeding $db: $2 tenants x $3 projects" >&2
  # A database tenant's own databases go with the data set (their comment
  # names it).
  for own in $(psql_admin -c "SELECT d.datname FROM pg_database d JOIN pg_shdescription c ON c.objoid = d.oid
      WHERE starts_with(c.description, 'tenantry tenant database of $db (')"); do
    psql_admin -c "DROP DATABASE IF EXISTS $own WITH (FORCE)"
  done
  psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
  DATABASE_URL=$pg/$db "$bin" bench-seed --prefix b --tenants "$2" --projects "$3" --placement "${4:-shared}" --out "$keys"
  psql "$pg/$db" -qAtX -c "GRANT SELECT ON bench_keys TO $role" -c "VACUUM ANALYZE"
}

server_pid=
stop_server() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; server_pid=; }
trap stop_server EXIT
cold_ms=0
db_url() { # set: the server's DATABASE_URL for a data set
  case $1 in
    sqlite) echo "sqlite://$out/bench-sqlite.db?mode=rwc" ;;
    *) echo "$pg/tenantry_bench_$1" ;;
  esac
}
start_server() { # db [noredis]: a PostgreSQL database name or a full URL; sets server_pid and cold_ms (spawn to a ready /readyz)
  local start end url=$1
  local -a unset=()
  [[ $url == *://* ]] || url=$pg/$url
  [ "${2:-}" = noredis ] && unset=(-u REDIS_URL -u TENANTRY_REDIS_PREFIX)
  start=$(date +%s%N)
  env "${unset[@]}" DATABASE_URL="$url" "$bin" serve --listen 127.0.0.1:$port >"$out/server.log" 2>&1 &
  server_pid=$!
  until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.005; done
  end=$(date +%s%N)
  cold_ms=$(( (end - start) / 1000000 ))
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
rss_kb() { awk "/^$1:/ {print \$2}" "/proc/$server_pid/status"; }

capture_statements() { # db
  # The server's own statements, from PostgreSQL's log, for one request of each kind.
  local log
  log=$(ls -t /var/log/postgresql/postgresql-*-main.log 2>/dev/null | head -n 1 || true)
  [ -n "$log" ] || return 0
  psql_admin -c "ALTER DATABASE $1 SET log_statement = 'all'"
  start_server "$1"
  local key project
  IFS=$'\t' read -r key _ project < "$out/keys-1k.tsv"
  for kind in list get create; do
    local before
    before=$(wc -l < "$log")
    case $kind in
      list) curl -fs -o /dev/null -H "X-API-Key: $key" "http://127.0.0.1:$port/v1/projects?limit=20" ;;
      get) curl -fs -o /dev/null -H "X-API-Key: $key" "http://127.0.0.1:$port/v1/projects/$project" ;;
      create) curl -fs -o /dev/null -H "X-API-Key: $key" -H 'content-type: application/json' -d '{"name":"captured"}' "http://127.0.0.1:$port/v1/projects" ;;
    esac
    sleep 0.2
    # Only this request's statements, not the background tasks' (session
    # revocations, sweeps, key-use flushes).
    tail -n +"$((before + 1))" "$log" | grep -E "(LOG|DETAIL):  (execute|statement|parameters)" \
      | grep -vE "SELECT 1$|session_changes_since|sweep_sessions|SET ROLE|last_used_at" \
      | grep -B1 -A1 -E "api_key_by_hash|projects|set_config|BEGIN|COMMIT" | grep -v '^--$' > "$out/statements-$kind.log" || true
  done
  stop_server
  psql_admin -c "ALTER DATABASE $1 RESET log_statement"
}

run_wrk() { # set mode [label]
  local before after credentials=$out/keys-$1.tsv label=${3:-$2}
  if [[ $2 == *_bearer ]]; then
    # Minted just before the run: access tokens live 15 minutes.
    "$bin" bench-tokens --keys "$credentials" --out "$out/tokens-$1.tsv"
    credentials=$out/tokens-$1.tsv
  fi
  before=$(cpu_ticks)
  WRK_MODE=$2 WRK_KEYS=$credentials wrk -t$threads -c$conns -d"${duration}s" --latency -s "$root/bench/wrk.lua" \
    "http://127.0.0.1:$port" > "$out/wrk-$1-$label.txt"
  after=$(cpu_ticks)
  printf '{"set": "%s", "mode": "%s", "cpu_ticks": %d, "wrk": %s}\n' "$1" "$label" $((after - before)) \
    "$(tail -n 1 "$out/wrk-$1-$label.txt")" >> "$out/raw.jsonl"
}

run_oha() { # set mode rate
  local key tenant project url line=1
  # Creates go to the second tenant (see run_pgbench).
  [ "$2" = create ] && line=2
  IFS=$'\t' read -r key tenant project < <(sed -n "${line}p" "$out/keys-$1.tsv")
  local -a args=(-q "$3" -z 10s --latency-correction --no-tui --output-format json -c $conns)
  case $2 in
    list) url="http://127.0.0.1:$port/v1/projects?limit=20"; args+=(-H "X-API-Key: $key") ;;
    get) url="http://127.0.0.1:$port/v1/projects/$project"; args+=(-H "X-API-Key: $key") ;;
    create) url="http://127.0.0.1:$port/v1/projects"; args+=(-m POST -H "X-API-Key: $key" -H 'content-type: application/json' -d '{"name":"open loop"}') ;;
  esac
  oha "${args[@]}" "$url" > "$out/oha-$1-$2.json"
  printf '{"set": "%s", "mode": "%s", "rate": %s, "oha": %s}\n' "$1" "$2" "$3" "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps({"p50_s": d["latencyPercentiles"]["p50"], "p99_s": d["latencyPercentiles"]["p99"], "rps": d["summary"]["requestsPerSec"], "success": d["summary"]["successRate"]}))' "$out/oha-$1-$2.json")" >> "$out/raw.jsonl"
}

run_hello_open() { # set mode rate: hello at the rate an endpoint's open-loop run used
  oha -q "$3" -z 10s --latency-correction --no-tui --output-format json -c $conns \
    "http://127.0.0.1:$port/bench/hello" > "$out/oha-$1-hello-at-$2.json"
  printf '{"set": "%s", "mode": "hello@%s", "rate": %s, "oha": %s}\n' "$1" "$2" "$3" "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps({"p50_s": d["latencyPercentiles"]["p50"], "p99_s": d["latencyPercentiles"]["p99"], "rps": d["summary"]["requestsPerSec"], "success": d["summary"]["successRate"]}))' "$out/oha-$1-hello-at-$2.json")" >> "$out/raw.jsonl"
}

run_pgbench_open() { # set mode rate: the endpoint's pipelined statements at the same rate (pgbench -R)
  # As many connections as the server multiplexes its requests over (4
  # shared connections), each transaction timed from its scheduled start as
  # oha's latency correction does (its time plus its schedule lag, from
  # pgbench's per-transaction log).
  local _key tenant project line=1 prefix=$out/pgbench-open-$1-$2
  [ "$2" = create ] && line=2
  IFS=$'\t' read -r _key tenant project < <(sed -n "${line}p" "$out/keys-$1.tsv")
  rm -f "$prefix".*
  PGOPTIONS="-c role=$role" pgbench -n -M prepared -c 4 -j $threads -T 10 -R "$3" -l --log-prefix="$prefix" \
    -D tenants=1000 -D t="$tenant" -D p="$project" -f "$root/bench/pgbench/$2_pipelined.sql" "$pg/tenantry_bench_$1" >/dev/null 2>&1
  printf '{"set": "%s", "pgbench_open": "%s", "rate": %s, %s}\n' "$1" "$2" "$3" "$(python3 -c 'import glob, statistics, sys
lat = sorted(int(f[2]) + int(f[6]) for n in glob.glob(sys.argv[1] + ".*") for f in map(str.split, open(n)))
q = lambda x: lat[min(len(lat) - 1, int(x * len(lat)))] / 1000 if lat else 0
print(f"\"p50_ms\": {q(0.50):.3f}, \"p99_ms\": {q(0.99):.3f}, \"transactions\": {len(lat)}")' "$prefix")" >> "$out/raw.jsonl"
  rm -f "$prefix".*
}

run_pgbench() { # set name script as_app tenants protocol
  local -a env=() ids=()
  [ "$4" = app ] && env=(PGOPTIONS="-c role=$role")
  if [[ $3 == *_pipelined ]]; then
    # The limit scripts send what a request with a cached key sends, for
    # the first tenant and project of the keys file; the create limit
    # writes into the second tenant, so the tenant the read limits read
    # keeps its hundred projects however often the bench runs.
    local _key tenant project line=1
    [ "$3" = create_pipelined ] && line=2
    IFS=$'\t' read -r _key tenant project < <(sed -n "${line}p" "$out/keys-$1.tsv")
    ids=(-D t="$tenant" -D p="$project")
  fi
  local result
  result=$(env "${env[@]}" pgbench -n -M "$6" -c $conns -j $threads -T "$duration" -D tenants="$5" "${ids[@]}" \
    -f "$root/bench/pgbench/$3.sql" "$pg/tenantry_bench_$1" 2>&1)
  local tps
  tps=$(echo "$result" | awk '/^tps = / {print $3; exit}')
  local lat
  lat=$(echo "$result" | awk '/latency average/ {print $4; exit}')
  printf '{"set": "%s", "pgbench": "%s", "tps": %s, "latency_avg_ms": %s}\n' "$1" "$2" "${tps:-0}" "${lat:-0}" >> "$out/raw.jsonl"
}

: > "$out/raw.jsonl"
seed_sqlite() { # the 1k data set on SQLite, the embedded default
  local file=$out/bench-sqlite.db keys=$out/keys-sqlite.tsv
  if [ "${BENCH_RESEED:-0}" != 1 ] && [ -s "$keys" ] && [ -s "$file" ]; then
    return
  fi
  echo "== seeding $file: 1000 tenants x 100 projects" >&2
  rm -f "$file" "$file"-*
  DATABASE_URL=$(db_url sqlite) "$bin" bench-seed --prefix b --tenants 1000 --projects 100 --out "$keys"
}

seed 1k 1000 100
[[ " $sets " == *" 100k "* ]] && seed 100k 100000 10
[[ " $sets " == *" sqlite "* ]] && seed_sqlite
# The 1k data set again with every tenant in a schema of its own.
[[ " $sets " == *" schema "* ]] && seed schema 1000 100 schema
# Twice as many schema tenants on the same server.
[[ " $sets " == *" schema2k "* ]] && seed schema2k 2000 100 schema
# 20 tenants, each in a database of its own (a pool of 2 connections each,
# under the server's cap).
[[ " $sets " == *" database "* ]] && seed database 20 100 database
capture_statements tenantry_bench_1k

median_rps() { # set mode: half the median closed-loop req/s (the open-loop rate)
  python3 -c 'import json, statistics, sys
rates = []
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("set") == sys.argv[2] and r.get("mode") == sys.argv[3] and "wrk" in r:
        w = r["wrk"]; rates.append(w["requests"] / (w["duration_us"] / 1e6))
print(int(statistics.median(rates) / 2))' "$out/raw.jsonl" "$1" "$2"
}

for set in $sets; do
  if [ "$set" = limits ]; then
    # The request budgets' cost: get and create on the 1k data set with the
    # budgets off and on (a budget no run reaches, so every request pays
    # the check and none is refused), in process without Redis and in
    # Redis (one script call a request) with it, each pair interleaved.
    for round in $(seq "$repeat"); do
      for variant in off_local local off_redis redis; do
        budget=off
        [[ $variant == off_* ]] || budget=100000000/s
        redis_mode=
        [[ $variant == *local ]] && redis_mode=noredis
        [ "$redis" = none ] && [[ $variant == *redis ]] && continue
        echo "== limits: budgets $budget, ${variant#off_} ($round/$repeat)" >&2
        TENANTRY_RATE_LIMIT=$budget start_server tenantry_bench_1k $redis_mode
        WRK_MODE=get WRK_KEYS=$out/keys-1k.tsv wrk -t$threads -c$conns -d2s -s "$root/bench/wrk.lua" \
          "http://127.0.0.1:$port" > /dev/null
        for mode in get create; do
          run_wrk 1k "$mode" "limits_${mode}_$variant"
        done
        stop_server
      done
    done
    if [ "${BENCH_PROFILE:-1}" = 1 ]; then
      for variant in off_local local off_redis redis; do
        budget=off
        [[ $variant == off_* ]] || budget=100000000/s
        redis_url=$redis
        [[ $variant == *local ]] && redis_url=none
        [ "$redis" = none ] && [[ $variant == *redis ]] && continue
        echo "== callgrind: get, budgets $budget, ${variant#off_}" >&2
        line=$(TENANTRY_RATE_LIMIT=$budget BENCH_REDIS=$redis_url BENCH_BIN="$bin" "$root/bench/profile.sh" get 1000 \
          | grep -E "^get: [0-9]+ instructions per request")
        printf '{"set": "1k", "mode": "limits_get_%s", "instructions": %d}\n' "$variant" "$(echo "$line" | awk '{print $2}')" >> "$out/raw.jsonl"
      done
    fi
    continue
  fi
  if [ "$set" = idempotency ]; then
    # The idempotency keys' cost: creates on the 1k data set without a key
    # and each with a key of its own (so every one stores its answer),
    # interleaved, the budgets off; then instructions per get (what every
    # read now pays for its ETag).
    echo "== idempotency: server" >&2
    TENANTRY_RATE_LIMIT=off start_server tenantry_bench_1k noredis
    WRK_MODE=get WRK_KEYS=$out/keys-1k.tsv wrk -t$threads -c$conns -d2s -s "$root/bench/wrk.lua" \
      "http://127.0.0.1:$port" > /dev/null
    for round in $(seq "$repeat"); do
      for mode in create create_idem; do
        echo "   wrk $mode ($round/$repeat)" >&2
        run_wrk 1k "$mode" "idem_$mode"
      done
    done
    stop_server
    if [ "${BENCH_PROFILE:-1}" = 1 ]; then
      echo "== callgrind: get" >&2
      line=$(BENCH_REDIS=none BENCH_BIN="$bin" "$root/bench/profile.sh" get 1000 \
        | grep -E "^get: [0-9]+ instructions per request")
      printf '{"set": "1k", "mode": "idem_get", "instructions": %d}\n' "$(echo "$line" | awk '{print $2}')" >> "$out/raw.jsonl"
    fi
    continue
  fi
  if [ "$set" = sqlite ]; then
    # The embedded default: the 1k data set in one SQLite file, no
    # PostgreSQL and no Redis, as the quick start runs it.
    echo "== sqlite: server" >&2
    start_server "$(db_url sqlite)" noredis
    sleep 1
    printf '{"set": "%s", "cold_start_ms": %d, "idle_rss_kb": %d}\n' "$set" "$cold_ms" "$(rss_kb VmRSS)" >> "$out/raw.jsonl"
    for round in $(seq "$repeat"); do
      for mode in hello list get create; do
        echo "   wrk $mode ($round/$repeat)" >&2
        run_wrk "$set" "$mode"
      done
    done
    printf '{"set": "%s", "peak_rss_kb": %d}\n' "$set" "$(rss_kb VmHWM)" >> "$out/raw.jsonl"
    stop_server
    continue
  fi
  case $set in 1k | schema) tenants=1000 ;; schema2k) tenants=2000 ;; 100k) tenants=100000 ;; database) tenants=20 ;; esac
  echo "== $set: pgbench limits ($repeat rounds)" >&2
  # The limit scripts read the shared tables; the schema and database sets are compared
  # with the 1k set's own figures instead.
  [[ $set == schema* ]] || [ "$set" = database ] || for _ in $(seq "$repeat"); do
    # The sequences as the server sent them before its statements were
    # prepared: the tenant setting and the statement in one simple-protocol
    # message, the values written into the SQL text.
    run_pgbench "$set" list_seq list app $tenants simple
    run_pgbench "$set" get_seq get app $tenants simple
    run_pgbench "$set" create_seq create app $tenants simple
    # Each endpoint's limit: the same statements, prepared, the setting a
    # parameter, pipelined before one Sync.
    run_pgbench "$set" list_pipe list_pipelined app $tenants prepared
    run_pgbench "$set" get_pipe get_pipelined app $tenants prepared
    run_pgbench "$set" create_pipe create_pipelined app $tenants prepared
    run_pgbench "$set" list_bare list_bare owner $tenants prepared
    run_pgbench "$set" get_bare get_bare owner $tenants prepared
    run_pgbench "$set" get_norls get_norls owner $tenants simple
    run_pgbench "$set" get_scoped get_scoped app $tenants simple
    run_pgbench "$set" get_unscoped get_unscoped owner $tenants simple
  done
  echo "== $set: server" >&2
  start_server "tenantry_bench_$set"
  sleep 1
  printf '{"set": "%s", "cold_start_ms": %d, "idle_rss_kb": %d}\n' "$set" "$cold_ms" "$(rss_kb VmRSS)" >> "$out/raw.jsonl"
  # Steady state: a discarded pass over every key first, so the key cache
  # holds what a server that has been serving these tenants would hold (at
  # these rates one run passes each of 100,000 keys about once, so without
  # it the 100k runs would measure a cold cache; the *_uncached runs below
  # measure the miss path itself). Entries still expire and are fetched
  # again during the runs, as they would be.
  warm=$((tenants / 5000 + 2))
  echo "   warm-up: get for ${warm}s over every key (not recorded)" >&2
  WRK_MODE=get WRK_KEYS=$out/keys-$set.tsv wrk -t$threads -c$conns -d"${warm}s" -s "$root/bench/wrk.lua" \
    "http://127.0.0.1:$port" > /dev/null
  modes="hello get_nokey list get list_bearer get_bearer create mixed"
  [ "$set" = 100k ] && modes="list get"
  [[ $set == schema* ]] && modes="hello list get create"
  [ "$set" = database ] && modes="hello list get create"
  for round in $(seq "$repeat"); do
    for mode in $modes; do
      echo "   wrk $mode ($round/$repeat)" >&2
      run_wrk "$set" "$mode"
    done
  done
  if [ "$set" = 1k ]; then
    for mode in list get create; do
      rps=$(median_rps "$set" "$mode")
      echo "   oha $mode at $rps/s" >&2
      run_oha "$set" "$mode" "$rps"
      # What the machine alone adds at that rate (hello), and what the
      # database alone takes (the pipelined statements, from pgbench).
      echo "   oha hello at $rps/s, pgbench ${mode}_pipelined at $rps/s" >&2
      run_hello_open "$set" "$mode" "$rps"
      run_pgbench_open "$set" "$mode" "$rps"
    done
  fi
  printf '{"set": "%s", "peak_rss_kb": %d}\n' "$set" "$(rss_kb VmHWM)" >> "$out/raw.jsonl"
  stop_server
  # The same reads with the key cache off, so the two data sets compare
  # like with like: with 100,000 keys in rotation a key recurs about every
  # 25 s, with 1,000 every 0.2 s, and the cache's hit rate follows.
  TENANTRY_KEY_CACHE_TTL_MS=0 start_server "tenantry_bench_$set"
  sleep 1
  for round in $(seq "$repeat"); do
    for mode in list get; do
      echo "   wrk ${mode}_uncached ($round/$repeat)" >&2
      run_wrk "$set" "$mode" "${mode}_uncached"
    done
  done
  stop_server
done

for set in schema schema2k; do
  [[ " $sets " == *" $set "* ]] || continue
  # Fleet migrations over the set's schema tenants: `tenantry migrate` with
  # nothing to do (the whole command, platform set and all), then the fleet
  # alone with nothing to do and adding one column to every tenant's
  # projects (taken away again afterwards).
  echo "== $set: fleet migrations" >&2
  begin=$(date +%s%N)
  DATABASE_URL=$pg/tenantry_bench_$set "$bin" migrate > /dev/null
  noop_ms=$((($(date +%s%N) - begin) / 1000000))
  fleet=$(DATABASE_URL=$pg/tenantry_bench_$set "$bin" bench-fleet --parallel 4)
  python3 -c 'import json, sys
f = json.loads(sys.argv[3])
print(json.dumps({"set": sys.argv[1], "migrate_noop_ms": int(sys.argv[2]), "fleet_noop_ms": f["noop_ms"],
                  "fleet_column_ms": f["column_ms"], "fleet_tenants": f["tenants"], "fleet_failed": f["failed"]}))' \
    "$set" "$noop_ms" "$fleet" >> "$out/raw.jsonl"
done

if [ "${BENCH_PROFILE:-1}" = 1 ]; then
  # Instructions per request (callgrind): they do not move with the load.
  for kind in hello get list create; do
    echo "== callgrind: $kind" >&2
    line=$(BENCH_BIN="$bin" "$root/bench/profile.sh" "$kind" 1000 | grep -E "^$kind: [0-9]+ instructions per request")
    printf '{"set": "1k", "mode": "%s", "instructions": %d}\n' "$kind" "$(echo "$line" | awk '{print $2}')" >> "$out/raw.jsonl"
  done
fi

python3 "$root/bench/report.py" "$out/raw.jsonl" "$out/results.json"
