#!/usr/bin/env bash
# Instructions per command, counted by callgrind: repeatable to ~1% where requests per second on
# a shared VM move by 10-30%, so an A/B of a few percent is visible (docs/benchmarks.md, sixth
# session). Kernel time is not counted.
#
#   Benchmarks/instructions.sh BINARY COUNT "FILL" "MEASURED"
#
# FILL: redis-benchmark arguments run natively against BINARY on a fresh database first (the
# steady state, e.g. "-n 200000 -r 100000 -t zadd"); MEASURED: the arguments of the COUNT
# requests counted under callgrind (e.g. "-r 100000 -t zadd", or a command such as
# "-r 100000 zadd myzset XX __rand_int__ element:__rand_int__"). PIPELINE=16 adds -P 16.
# SERVER_ARGS adds server flags (e.g. "--pipeline-run-max-commands 1").
# Prints "instructions_per_request: N". KEEP_PROFILE=FILE keeps the callgrind output there
# (`callgrind_annotate FILE | head -40` lists where the instructions go).
#
# Needs valgrind (apt-get install valgrind). valgrind 3.19 cannot read Swift 6's DWARF 5, so a
# copy of BINARY without debug info is run; it does not implement io_uring, so the epoll loop is.
set -euo pipefail
[ $# -eq 4 ] || { sed -n 5,12p "$0"; exit 2; }
binary=$1; count=$2; fill=$3; measured=$4
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
work=$(mktemp -d)
port=$((20000 + RANDOM % 10000))
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

wait_ready() {  # up to 60 s (valgrind starts slowly)
    for _ in $(seq 200); do redis-cli -p "$port" ping >/dev/null 2>&1 && return 0; sleep 0.3; done
    echo "server did not start" >&2; exit 1
}

# 1. The steady state, natively.
# shellcheck disable=SC2086
"$binary" --port "$port" --db "$work/bench.db" --log-level error ${SERVER_ARGS:-} >/dev/null 2>&1 &
server=$!
wait_ready
# shellcheck disable=SC2086
timeout 600 redis-benchmark -p "$port" -c 50 -q $fill >/dev/null 2>&1
kill "$server"; wait "$server" 2>/dev/null || true

# 2. The same database under callgrind, instrumentation off until the warm-up is done.
objcopy --strip-debug "$binary" "$work/server"
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/callgrind.out" \
    "$work/server" --port "$port" --db "$work/bench.db" --log-level error --network-backend epoll ${SERVER_ARGS:-} \
    >/dev/null 2>"$work/valgrind.log" &
server=$!
wait_ready
pipeline=${PIPELINE:+-P $PIPELINE}
# shellcheck disable=SC2086
timeout 600 redis-benchmark -p "$port" -c 50 -q -n 2000 $pipeline $measured >/dev/null 2>&1
callgrind_control -i on "$server" >/dev/null 2>&1
# shellcheck disable=SC2086
timeout 1200 redis-benchmark -p "$port" -c 50 -q -n "$count" $pipeline $measured >/dev/null 2>&1
callgrind_control -i off "$server" >/dev/null 2>&1
callgrind_control -d "$server" >/dev/null 2>&1
sleep 2
kill "$server"; wait "$server" 2>/dev/null || true
server=""
total=$(grep -h "^totals:" "$work"/callgrind.out* | awk '{print $2}' | sort -n | tail -1)
[ -n "$total" ] && [ "$total" -gt 0 ] || { echo "callgrind counted nothing (see valgrind's log)" >&2; cat "$work/valgrind.log" >&2; exit 1; }
if [ -n "${KEEP_PROFILE:-}" ]; then cp "$(ls -S "$work"/callgrind.out* | head -1)" "$KEEP_PROFILE"; fi
echo "instructions_per_request: $((total / count))"
