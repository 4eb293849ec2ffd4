#!/usr/bin/env bash
# Runs redis-benchmark against a native redis-server and against RESPLite on the same machine,
# alternately, and prints requests/s for both and the ratio RESPLite/Redis.
# Usage: Benchmarks/redis-benchmark-compare.sh [requests] [extra redis-benchmark args...]
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-100000}; shift || true
extra=("$@")
tests=get,set,incr,lpush,rpop,sadd,hset,zadd
work=$(mktemp -d)
trap 'kill $resplite_pid $redis_pid 2>/dev/null || true; rm -rf "$work"' EXIT

swift build -c release --product resplite >/dev/null
redis_port=$((20000 + RANDOM % 10000)); resplite_port=$((redis_port + 1))
redis-server --port $redis_port --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >/dev/null &
redis_pid=$!
.build/release/resplite --port $resplite_port --db "$work/bench.db" >/dev/null 2>&1 &
resplite_pid=$!
sleep 1

run() { redis-benchmark -p "$1" -c 50 -n "$requests" -r 100000 -d 64 -t "$tests" -q "${extra[@]}" 2>/dev/null \
        | tr '\r' '\n' | grep "requests per second" | sed 's/: / /' | awk '{print $1, $2}'; }
declare -A redis resplite
while read -r name rps; do redis[$name]=$rps; done < <(run $redis_port)
while read -r name rps; do resplite[$name]=$rps; done < <(run $resplite_port)
printf "%-8s %12s %12s %8s\n" test redis resplite ratio
for name in "${!redis[@]}"; do
    r=${redis[$name]}; s=${resplite[$name]:-0}
    printf "%-8s %12s %12s %8.2f\n" "$name" "$r" "$s" "$(echo "$s / $r" | bc -l)"
done | sort
