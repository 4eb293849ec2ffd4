#!/usr/bin/env bash
# redis-benchmark against a native redis-server and RESPLite on the same machine, servers run
# alternately; prints requests/s and p99 latency for both and the ratios RESPLite/Redis, and
# appends CSV rows.
#
# Usage: Benchmarks/redis-benchmark-compare.sh [--requests N] [--pipeline P] [--clients C]
#            [--template default|performance|safety] [--redis-fsync no|everysec|always]
#            [--csv FILE] [--label TEXT] [--resplite-args "..."]
# The issue's matrix: default run; --pipeline 16; --redis-fsync always --template safety.
set -euo pipefail
cd "$(dirname "$0")/.."
requests=200000; pipeline=1; clients=50; template=default; fsync=no; csv=""; label=""; extra=""
while [ $# -gt 0 ]; do
    case "$1" in
        --requests) requests=$2; shift 2 ;;
        --pipeline) pipeline=$2; shift 2 ;;
        --clients) clients=$2; shift 2 ;;
        --template) template=$2; shift 2 ;;
        --redis-fsync) fsync=$2; shift 2 ;;
        --csv) csv=$2; shift 2 ;;
        --label) label=$2; shift 2 ;;
        --resplite-args) extra=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
# In redis-benchmark's own order (`redis-benchmark -t get,set,...` runs SET before GET), so GET
# reads the keys SET wrote instead of an empty keyspace, as a user's run does.
tests=set,get,incr,lpush,rpop,sadd,hset,zadd,lrange_100
work=$(mktemp -d)
resplite_pid=""; redis_pid=""
trap 'kill $resplite_pid $redis_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

swift build -c release --product resplite >/dev/null
redis_port=$((20000 + RANDOM % 10000)); resplite_port=$((redis_port + 1))
if [ "$fsync" = "no" ]; then persistence=(--appendonly no); else persistence=(--appendonly yes --appendfsync "$fsync"); fi
redis-server --port $redis_port --bind 127.0.0.1 --save '' "${persistence[@]}" --dir "$work" >/dev/null &
redis_pid=$!
# shellcheck disable=SC2086
.build/release/resplite --port $resplite_port --db "$work/bench.db" --pragma-template "$template" --log-level error $extra &
resplite_pid=$!
sleep 1

run() {  # port test -> "requests/s p99_ms" (redis-benchmark's CSV: test, rps, avg, min, p50, p95, p99, max)
    # The last row: lrange_* tests print their LPUSH prefill ("LPUSH (needed to benchmark
    # LRANGE)") first. (Until 2026-12-05 the first row was taken, so earlier lrange_100 rows
    # in docs/redis-benchmark-results.csv measured that LPUSH, not LRANGE_100.)
    redis-benchmark -p "$1" -c "$clients" -n "$requests" -r 100000 -d 64 -P "$pipeline" -t "$2" --csv 2>/dev/null \
        | tail -n +2 | tr -d '"' | awk -F, '{ last = $2 " " $7 } END { print last }'
}
printf "# %s: clients %s, pipeline %s, requests %s, RESPLite template %s, Redis appendfsync %s\n" \
    "${label:-run}" "$clients" "$pipeline" "$requests" "$template" "$fsync"
printf "%-10s %12s %12s %7s %11s %11s %7s\n" test redis resplite ratio "redis p99" "resp. p99" "p99 x"
for test in ${tests//,/ }; do
    # Alternate which server goes first, so drift on a noisy machine cancels out.
    if [ $((RANDOM % 2)) -eq 0 ]; then redis_result=$(run $redis_port "$test"); resplite_result=$(run $resplite_port "$test")
    else resplite_result=$(run $resplite_port "$test"); redis_result=$(run $redis_port "$test"); fi
    read -r r redis_p99 <<<"$redis_result"
    read -r s resplite_p99 <<<"$resplite_result"
    ratio=$(awk -v a="$s" -v b="$r" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
    p99_ratio=$(awk -v a="$resplite_p99" -v b="$redis_p99" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
    printf "%-10s %12s %12s %7s %11s %11s %7s\n" "$test" "$r" "$s" "$ratio" "$redis_p99" "$resplite_p99" "$p99_ratio"
    if [ -n "$csv" ]; then
        [ -f "$csv" ] || echo "label,test,clients,pipeline,template,redis_fsync,redis_rps,resplite_rps,ratio,redis_p99_ms,resplite_p99_ms,p99_ratio" > "$csv"
        echo "${label:-run},$test,$clients,$pipeline,$template,$fsync,$r,$s,$ratio,$redis_p99,$resplite_p99,$p99_ratio" >> "$csv"
    fi
done
