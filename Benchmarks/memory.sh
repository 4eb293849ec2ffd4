#!/usr/bin/env bash
# RSS of RESPLite and Redis after loading N small keys (SET key:i, 16-byte values).
# Usage: Benchmarks/memory.sh [N ...]   (default: 1000000 5000000)
set -euo pipefail
cd "$(dirname "$0")/.."
counts=("$@"); [ ${#counts[@]} -gt 0 ] || counts=(1000000 5000000)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
swift build -c release --product resplite >/dev/null
rss() { awk '/VmRSS/ {print $2 * 1024}' "/proc/$1/status"; }
load() {  # port count
    local port=$1 count=$2
    # Pipelined SETs in batches of 10,000, reading every reply before the next batch.
    python3 - "$port" "$count" <<'PY'
import socket, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
batch = 10000
for start in range(0, count, batch):
    parts = []
    for i in range(start, min(count, start + batch)):
        key = b"key:%d" % i
        parts.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$16\r\n0123456789abcdef\r\n" % (len(key), key))
    s.sendall(b"".join(parts))
    expected = (min(count, start + batch) - start) * 5
    got = 0
    while got < expected:
        got += len(s.recv(1 << 20))
PY
}
printf "%-10s %14s %14s %7s\n" keys redis_rss resplite_rss ratio
for count in "${counts[@]}"; do
    port=$((30000 + RANDOM % 10000))
    redis-server --port $port --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >/dev/null & rpid=$!
    .build/release/resplite --port $((port + 1)) --db "$work/mem-$count.db" --log-level error & spid=$!
    sleep 1
    load $port "$count"; load $((port + 1)) "$count"
    sleep 1
    r=$(rss $rpid); s=$(rss $spid)
    rkeys=$(redis-cli -p $port DBSIZE); skeys=$(redis-cli -p $((port + 1)) DBSIZE)
    if [ "$rkeys" != "$count" ] || [ "$skeys" != "$count" ]; then
        echo "load incomplete: redis $rkeys, resplite $skeys keys of $count" >&2; exit 1
    fi
    printf "%-10s %14s %14s %7s\n" "$count" "$r" "$s" "$(awk -v a="$s" -v b="$r" 'BEGIN {printf "%.2f", a / b}')"
    kill $rpid $spid; wait $rpid $spid 2>/dev/null || true
done
