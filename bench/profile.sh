#!/usr/bin/env bash
# Instructions per request, counted by callgrind (stable on a noisy machine):
# starts the release server (built by bench/run.sh) under valgrind on a
# seeded data set (BENCH_SET, default 1k; e.g. schema or database for the
# first tenant of that set), warms it up, then counts N requests of one kind
# and prints instructions per request and the costliest functions
# (inclusive).
#
#   bench/profile.sh [get|list|create|hello] [N=2000]
#
# Needs bench/run.sh to have seeded tenantry_bench_<set> (keys in
# bench/results/keys-<set>.tsv) and valgrind (Debian package). BENCH_BIN
# runs another build (e.g. a copy of an earlier commit's) for a comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-get}
n=${2:-2000}
out=bench/results
pg=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
port=18481
set=${BENCH_SET:-1k}
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind; }
[ -s "$out/keys-$set.tsv" ] || { echo "run bench/run.sh first (it seeds the data set)" >&2; exit 1; }
export TENANTRY_SECRET=${TENANTRY_SECRET:-bench-secret-0123456789abcdef0123456789abcdef}
export TENANTRY_DATA_DIR=$out/data TENANTRY_LOG=warn
# The request budgets off unless asked for (the figures are the request
# path's own; bench/run.sh measures the budgets apart).
export TENANTRY_RATE_LIMIT=${TENANTRY_RATE_LIMIT:-off} TENANTRY_RATE_LIMIT_ANONYMOUS=${TENANTRY_RATE_LIMIT_ANONYMOUS:-off}
redis=${BENCH_REDIS:-redis://127.0.0.1:6379}
if [ "$redis" != none ] && redis-cli -u "$redis" ping 2>/dev/null | grep -q PONG; then
  export REDIS_URL=$redis TENANTRY_REDIS_PREFIX=profile-$$:
else
  unset REDIS_URL TENANTRY_REDIS_PREFIX
fi
IFS=$'\t' read -r key _ project < "$out/keys-$set.tsv"
case $kind in
  get) args=(-H "X-API-Key: $key" "http://127.0.0.1:$port/v1/projects/$project") ;;
  list) args=(-H "X-API-Key: $key" "http://127.0.0.1:$port/v1/projects?limit=20") ;;
  create) args=(-m POST -H "X-API-Key: $key" -H 'content-type: application/json' -d '{"name":"profiled"}' "http://127.0.0.1:$port/v1/projects") ;;
  hello) args=("http://127.0.0.1:$port/bench/hello") ;;
  *) echo "unknown kind: $kind" >&2; exit 2 ;;
esac
file=$out/callgrind-$kind.out
rm -f "$file" "$file".*
DATABASE_URL=$pg/tenantry_bench_$set valgrind --tool=callgrind --callgrind-out-file="$file" \
  "${BENCH_BIN:-target/release/tenantry}" serve --listen 127.0.0.1:$port >"$out/profile-server.log" 2>&1 &
vg=$!
trap 'kill $vg 2>/dev/null || true' EXIT
until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.5; done
oha -n 200 -c 4 --no-tui "${args[@]}" >/dev/null
callgrind_control -z "$vg" >/dev/null
oha -n "$n" -c 4 --no-tui "${args[@]}" | grep -E "Success rate" || true
callgrind_control -d "$vg" >/dev/null
kill "$vg"; wait "$vg" 2>/dev/null || true
dump=$(ls "$file".* | head -n 1)
total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
echo "$kind: $((total / n)) instructions per request ($total for $n)"
callgrind_annotate --inclusive=yes "$dump" 2>/dev/null \
  | grep -E "tenantry::|sea_orm::|sea_query::|sqlx_postgres::|serde_json::|poem_openapi::|hmac|sha2|tracing_subscriber::fmt::Subscriber|memcpy" \
  | head -n "${PROFILE_TOP:-30}" | awk -v n="$n" '{gsub(",", "", $1); printf "%9d  %s\n", $1 / n, substr($0, index($0, $3))}' | cut -c1-180
