#!/usr/bin/env bash
# Migration benchmark (not part of the test suite): fills a local redis-server (started here on
# a free loopback port) with a generated dataset, runs `resplite-import bulk` into a fresh
# database, and prints keys/s, MB/s, the importer's peak RSS and the time of an apply-dirty of
# 100,000 dirty keys.
#
#   Benchmarks/migration/run.sh [SMALL_KEYS=1000000] [LARGE_VALUES=1000] [LARGE_VALUE_BYTES=102400]
#
# Needs redis-server, redis-cli, python3, sqlite3 and GNU time (/usr/bin/time).
# Builds resplite-import in release mode unless RESPLITE_IMPORT points at a binary.
set -euo pipefail
SMALL_KEYS=${1:-1000000}
LARGE_VALUES=${2:-1000}
LARGE_VALUE_BYTES=${3:-102400}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCRATCH=${SCRATCH:-$ROOT/.build-migration-release}
if [[ -z "${RESPLITE_IMPORT:-}" ]]; then
  (cd "$ROOT" && swift build -c release --product resplite-import --scratch-path "$SCRATCH" >/dev/null)
  RESPLITE_IMPORT="$SCRATCH/release/resplite-import"
fi
WORK=$(mktemp -d /tmp/resplite-migration-bench.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" \
  --daemonize no --loglevel warning --notify-keyspace-events KEA >/dev/null 2>&1 &
REDIS_PID=$!
trap 'kill $REDIS_PID 2>/dev/null; wait $REDIS_PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
URL="redis://127.0.0.1:$PORT"

# Dataset generator: RESP commands on stdout for `redis-cli --pipe`.
gen() {
python3 - "$@" <<'PY'
import sys, random
mode = sys.argv[1]; n = int(sys.argv[2]); size = int(sys.argv[3]) if len(sys.argv) > 3 else 0
out = sys.stdout.buffer
def cmd(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str): a = a.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    out.write(b"".join(parts))
rnd = random.Random(7)
if mode == "small":
    # Mostly small strings, some small collections, 10% with TTLs.
    for i in range(n):
        k = "s:%d" % i
        r = i % 20
        if r < 16: cmd("SET", k, "value-%d-%s" % (i, "x" * 20))
        elif r == 16: cmd("HSET", k, "a", "1", "b", "2", "c", str(i))
        elif r == 17: cmd("SADD", k, "m1", "m2", str(i))
        elif r == 18: cmd("RPUSH", k, "e1", "e2", str(i))
        else: cmd("ZADD", k, "1", "a", "2", "b", str(i), "c")
        if i % 10 == 0: cmd("EXPIRE", k, "86400")
    # A few very large collections (read in pages).
    for i in range(200000):
        cmd("HSET", "big:hash", "f%d" % i, "v%d" % i)
        cmd("ZADD", "big:zset", str(i), "m%d" % i)
        cmd("RPUSH", "big:list", "e%d" % i)
        cmd("SADD", "big:set", "m%d" % i)
elif mode == "strings":
    # Small strings only (the "small strings" speed target), 10% with TTLs.
    for i in range(n):
        k = "str:%d" % i
        cmd("SET", k, "value-%d-%s" % (i, "x" * 20))
        if i % 10 == 0: cmd("EXPIRE", k, "86400")
elif mode == "large":
    blob = bytes(rnd.getrandbits(8) for _ in range(size))
    for i in range(n):
        cmd("SET", "large:%d" % i, blob[i % 97:] + blob[:i % 97])
PY
}

rss_and_time() {  # runs a command under GNU time; prints "seconds maxrss_kb"
  /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$@" >"$WORK/out.txt" 2>"$WORK/err.txt" || { cat "$WORK/err.txt"; exit 1; }
  cat "$WORK/time.txt"
}

echo "== small keys: $SMALL_KEYS keys + 4 collections of 200,000 elements"
gen small "$SMALL_KEYS" | redis-cli -p "$PORT" --pipe >/dev/null
TOTAL=$(redis-cli -p "$PORT" dbsize)
read -r SECS RSS < <(rss_and_time "$RESPLITE_IMPORT" bulk --run-id bench --from "$URL" --to "$WORK/small.db" --pragma-template "${TEMPLATE:-default}")
BYTES=$(grep -o 'bytes [0-9]*' "$WORK/out.txt" | head -1 | awk '{print $2}')
python3 -c "print(f'bulk: {$TOTAL} keys in {$SECS:.2f} s = {$TOTAL/$SECS:,.0f} keys/s, {$BYTES/1048576/$SECS:.1f} MB/s, peak RSS {$RSS/1024:.0f} MB')"

# Two samples of 100,000 dirty keys: a random one (as the dataset is), and the first 100,000 rows
# plus the four large collections (a worst case: 800,000 more elements rewritten).
apply_dirty() {  # label, SQL selecting the keys
  sqlite3 "$WORK/small.db" "DELETE FROM migration_dirty_keys WHERE run_id = 'bench';
    INSERT OR REPLACE INTO migration_dirty_keys(run_id, key, first_seen_at, last_seen_at, events_count, last_event, state)
    SELECT 'bench', key, 0, 0, 1, 'set', 'dirty' FROM ($2);"
  local big
  big=$(sqlite3 "$WORK/small.db" "SELECT count(*) FROM migration_dirty_keys WHERE run_id = 'bench' AND key >= CAST('big:' AS BLOB) AND key < CAST('big;' AS BLOB)")
  read -r SECS RSS < <(rss_and_time "$RESPLITE_IMPORT" apply-dirty --run-id bench --from "$URL" --to "$WORK/small.db" --pragma-template "${TEMPLATE:-default}")
  python3 -c "print(f'apply-dirty ($1): 100,000 keys in {$SECS:.2f} s ($big of them 200,000-element collections), peak RSS {$RSS/1024:.0f} MB')"
}
echo "== apply-dirty of 100,000 keys (tracker registry filled directly, source unchanged)"
apply_dirty "random sample" "SELECT key FROM redis_keys ORDER BY random() LIMIT 100000"
apply_dirty "with the 4 large collections" "SELECT key FROM redis_keys WHERE key >= CAST('big:' AS BLOB) AND key < CAST('big;' AS BLOB) UNION ALL SELECT key FROM (SELECT key FROM redis_keys WHERE NOT (key >= CAST('big:' AS BLOB) AND key < CAST('big;' AS BLOB)) LIMIT 99996)"

echo "== small strings only: $SMALL_KEYS keys"
redis-cli -p "$PORT" flushall >/dev/null
gen strings "$SMALL_KEYS" | redis-cli -p "$PORT" --pipe >/dev/null
TOTAL=$(redis-cli -p "$PORT" dbsize)
read -r SECS RSS < <(rss_and_time "$RESPLITE_IMPORT" bulk --run-id bench --from "$URL" --to "$WORK/strings.db" --pragma-template "${TEMPLATE:-default}")
python3 -c "print(f'bulk: {$TOTAL} small strings in {$SECS:.2f} s = {$TOTAL/$SECS:,.0f} keys/s, peak RSS {$RSS/1024:.0f} MB')"

echo "== large values: $LARGE_VALUES strings of $LARGE_VALUE_BYTES bytes"
redis-cli -p "$PORT" flushall >/dev/null
gen large "$LARGE_VALUES" "$LARGE_VALUE_BYTES" | redis-cli -p "$PORT" --pipe >/dev/null
read -r SECS RSS < <(rss_and_time "$RESPLITE_IMPORT" bulk --run-id bench --from "$URL" --to "$WORK/large.db" --pragma-template "${TEMPLATE:-default}")
BYTES=$(grep -o 'bytes [0-9]*' "$WORK/out.txt" | head -1 | awk '{print $2}')
python3 -c "print(f'bulk: {$LARGE_VALUES} keys, {$BYTES/1048576:.0f} MB in {$SECS:.2f} s = {$BYTES/1048576/$SECS:.1f} MB/s, peak RSS {$RSS/1024:.0f} MB')"
