#!/usr/bin/env bash
# The move benchmark: one tenant of 100,000 projects (beside a second tenant
# of as many) moved shared -> schema -> database -> shared on PostgreSQL by
# `tenantry tenant move`, while a release server serves it and a paced writer
# (bench/move_writer.py) creates and renames its projects. Each move's total
# time, rows per second of the copy, write pause and the writer's view of it
# are compared with plain copies of the same rows measured in the same run:
# `INSERT … SELECT` within the database and `COPY … TO STDOUT | COPY … FROM
# STDIN` between two. Raw figures land in bench/results/move.jsonl.
#
# Environment (all optional):
#   BENCH_PG         admin URL without a database     [postgres://postgres@127.0.0.1:5432]
#   BENCH_MOVE_ROWS  projects of the moved tenant      [100000]
#   BENCH_MOVE_RATE  the writer's writes per second    [200]
#   BENCH_REPEAT     tours (three moves each)          [1]
#   BENCH_REDIS      Redis for the routing broadcast   [redis://127.0.0.1:6379]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/bench/results
mkdir -p "$out"
pg=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
rows=${BENCH_MOVE_ROWS:-100000}
rate=${BENCH_MOVE_RATE:-200}
repeat=${BENCH_REPEAT:-1}
db=tenantry_bench_move
scratch=tenantry_bench_move_copy
port=18481
export TENANTRY_SECRET=${TENANTRY_SECRET:-bench-secret-0123456789abcdef0123456789abcdef}
export TENANTRY_DATA_DIR=$out/data-move
export TENANTRY_LOG=warn
# The request budgets are off unless a run measures them (the figures are
# the request path's own).
export TENANTRY_RATE_LIMIT=${TENANTRY_RATE_LIMIT:-off}
export TENANTRY_RATE_LIMIT_ANONYMOUS=${TENANTRY_RATE_LIMIT_ANONYMOUS:-off}
export DATABASE_URL=$pg/$db
redis=${BENCH_REDIS:-redis://127.0.0.1:6379}
if ! redis-cli -u "$redis" ping 2>/dev/null | grep -q PONG; then
  echo "== Redis at $redis is unreachable: instances learn of a move by polling (500 ms)" >&2
else
  export REDIS_URL=$redis
  export TENANTRY_REDIS_PREFIX=bench-move-$$:
fi

echo "== building the release server (features: bench)" >&2
cargo build --release --features bench -q
bin=$root/target/release/tenantry
psql_admin() { psql "$pg/postgres" -qAtX -v ON_ERROR_STOP=1 "$@"; }
psql_db() { psql "$pg/$db" -qAtX -v ON_ERROR_STOP=1 "$@"; }
now_ns() { date +%s%N; }

drop_all() {
  for own in $(psql_admin -c "SELECT d.datname FROM pg_database d JOIN pg_shdescription c ON c.objoid = d.oid
      WHERE starts_with(c.description, 'tenantry tenant database of $db (')"); do
    psql_admin -c "DROP DATABASE IF EXISTS $own WITH (FORCE)"
  done
  psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP DATABASE IF EXISTS $scratch WITH (FORCE)"
}

# Seeded afresh every run: the moves leave the tenant where it started,
# with the writer's rows added.
echo "== seeding $db: 2 tenants x $rows projects" >&2
drop_all
psql_admin -c "CREATE DATABASE $db" -c "CREATE DATABASE $scratch"
"$bin" bench-seed --prefix b --tenants 2 --projects "$rows" --out "$out/keys-move.tsv"
psql_db -c "VACUUM ANALYZE"
IFS=$'\t' read -r key tenant _ < "$out/keys-move.tsv"
slug=b-0

server_pid=
writer_pid=
stop_all() {
  [ -n "$writer_pid" ] && kill "$writer_pid" 2>/dev/null && wait "$writer_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  writer_pid=
  server_pid=
}
trap stop_all EXIT
"$bin" serve --listen 127.0.0.1:$port >"$out/server-move.log" 2>&1 &
server_pid=$!
until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.05; done

baseline() { # tour: plain copies of the tenant's rows as they are now (shared)
  local n start end
  n=$(psql_db -c "SELECT count(*) FROM projects WHERE tenant_id = '$tenant'")
  start=$(now_ns)
  psql_db -c "CREATE TABLE bench_move_copy (LIKE projects INCLUDING ALL)" \
    -c "INSERT INTO bench_move_copy SELECT * FROM projects WHERE tenant_id = '$tenant'"
  end=$(now_ns)
  psql_db -c "DROP TABLE bench_move_copy"
  printf '{"tour": %d, "baseline": "insert_select", "rows": %d, "ms": %d}\n' "$1" "$n" $(((end - start) / 1000000)) >> "$out/move.jsonl"
  # Between databases: the same columns and primary key, rows by COPY.
  psql "$pg/$scratch" -qAtX -v ON_ERROR_STOP=1 -c "DROP TABLE IF EXISTS bench_move_copy" \
    -c "$(psql_db -c "SELECT 'CREATE TABLE bench_move_copy (' || string_agg(quote_ident(attname) || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) || ', PRIMARY KEY (tenant_id, id))'
          FROM pg_attribute WHERE attrelid = 'projects'::regclass AND attnum > 0 AND NOT attisdropped")"
  start=$(now_ns)
  psql_db -c "COPY (SELECT * FROM projects WHERE tenant_id = '$tenant') TO STDOUT" \
    | psql "$pg/$scratch" -qAtX -v ON_ERROR_STOP=1 -c "COPY bench_move_copy FROM STDIN"
  end=$(now_ns)
  psql "$pg/$scratch" -qAtX -c "DROP TABLE bench_move_copy"
  printf '{"tour": %d, "baseline": "copy_between_databases", "rows": %d, "ms": %d}\n' "$1" "$n" $(((end - start) / 1000000)) >> "$out/move.jsonl"
}

move() { # tour placement
  local stop=$out/move-writer.stop mark=$out/move-writer.mark summary
  rm -f "$stop" "$mark"
  python3 "$root/bench/move_writer.py" --port $port --key "$key" --rate "$rate" --stop "$stop" --mark "$mark" \
    > "$out/move-writer.json" &
  writer_pid=$!
  # A second of writes before the move: the writer's latency at rest.
  sleep 1
  python3 -c 'import time; print(time.time())' > "$mark"
  echo "== tour $1: $slug to $2" >&2
  "$bin" tenant move "$slug" --to "$2" > "$out/move-report.json" 2> >(tee "$out/move-progress.log" | tail -n 4 >&2)
  # Writes go on a second past the move (the old copy gone).
  sleep 1
  touch "$stop"
  wait "$writer_pid"
  writer_pid=
  summary=$(python3 -c 'import json, sys
r = json.load(open(sys.argv[1])); w = json.load(open(sys.argv[2]))
print(json.dumps({"tour": int(sys.argv[3]), "move": r["to"]["placement"], "from": r["from"]["placement"],
                  "report": r, "writer": w}))' "$out/move-report.json" "$out/move-writer.json" "$1")
  echo "$summary" >> "$out/move.jsonl"
}

: > "$out/move.jsonl"
for tour in $(seq "$repeat"); do
  baseline "$tour"
  move "$tour" schema
  move "$tour" database
  move "$tour" shared
done
stop_all

# Every acknowledged create is there exactly once; the other tenant is
# untouched.
created=$(python3 -c 'import json, sys
print(sum(json.loads(l)["writer"]["created"] for l in open(sys.argv[1]) if "writer" in l))' "$out/move.jsonl")
have=$(psql_db -c "SELECT count(*), count(DISTINCT id) FROM projects WHERE tenant_id = '$tenant'")
other=$(psql_db -c "SELECT count(*) FROM projects WHERE tenant_id <> '$tenant'")
expected="$((rows + created))|$((rows + created))"
printf '{"check": "rows", "expected": "%s", "found": "%s", "other_tenant": %d}\n' "$expected" "$have" "$other" >> "$out/move.jsonl"
python3 "$root/bench/move_report.py" "$out/move.jsonl"
if [ "$have" != "$expected" ] || [ "$other" != "$rows" ]; then
  echo "the moved tenant has $have projects (count, distinct), expected $expected; the other tenant $other, expected $rows" >&2
  exit 1
fi
drop_all
