#!/usr/bin/env python3
"""Contract test: the Python `redis` client (redis-py) against a running RESPLite.

Run by Tests/RESPLiteTests/ClientContractTests.swift against an in-process server on each
network backend and protocol. Plain Python, no test framework: every check is an assert-like
call of `check`; the first failure prints a clear message (section, what was expected, what
came back) and the script exits 1. Exit 0 means every section passed.

    python redis_py_contract.py --port 6379 [--protocol default|2|3] [--keep-going]

--protocol default  redis-py's default: RESP3 on the wire (HELLO 3) with redis-py 8's
                    "legacy" Python shapes (hgetall -> dict, smembers -> set, zscore -> float,
                    zrange withscores -> list of (member, score) tuples). This is what an
                    unchanged application gets.
--protocol 2        RESP2 on the wire (no HELLO 3).
--protocol 3        protocol=3 passed explicitly: RESP3 with redis-py's RESP3 Python shapes
                    (zrange withscores -> list of [member, score] lists).
--keep-going        run every section and report every failing one (diagnostics; the default
                    stops at the first failure).

The expectations are Redis 7's replies as redis-py decodes them, including pub/sub (pubsub()
objects: subscribe, psubscribe, get_message, RESP3 push messages) and MULTI/EXEC pipelines
(transaction=True) with WATCH.

The script FLUSHDBs the server it is pointed at: never point it at a server with data you keep.
"""

import argparse
import sys
import time
import traceback
import warnings

import redis


class ContractFailure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise ContractFailure(message)


def eq(actual, expected, what):
    if actual != expected:
        raise ContractFailure(f"{what}: expected {expected!r}, got {actual!r}")


def raises(fn, fragment, what):
    """fn() must raise a redis ResponseError whose text contains fragment."""
    try:
        result = fn()
    except redis.exceptions.ResponseError as error:
        check(fragment in str(error), f"{what}: error {str(error)!r} does not contain {fragment!r}")
        return
    raise ContractFailure(f"{what}: expected an error containing {fragment!r}, got {result!r}")


class Contract:
    def __init__(self, port, protocol):
        self.port = port
        self.protocol = protocol  # "default", "2" or "3"
        self.kwargs = dict(host="127.0.0.1", port=port, socket_timeout=10, socket_connect_timeout=5)
        if protocol != "default":
            self.kwargs["protocol"] = int(protocol)
        self.r = redis.Redis(**self.kwargs)
        self.s = redis.Redis(decode_responses=True, **self.kwargs)

    @property
    def resp3_wire(self):
        return self.protocol in ("default", "3")

    def pair(self, member, score):
        """One (member, score) element of zrange withscores as this mode returns it."""
        return [member, score] if self.protocol == "3" else (member, score)

    # ---------------------------------------------------------------- connection/server

    def section_connection(self):
        r = self.r
        eq(r.ping(), True, "ping")
        eq(r.echo(b"hello"), b"hello", "echo")
        eq(self.s.echo("h\u00e9llo"), "h\u00e9llo", "echo (decode_responses)")
        seconds, micros = r.time()
        check(isinstance(seconds, int) and isinstance(micros, int), f"time: {seconds!r}, {micros!r}")
        check(abs(seconds - time.time()) < 60, f"time: {seconds} is not now ({time.time()})")
        check(0 <= micros < 1_000_000, f"time: microseconds {micros}")

        # A dedicated connection, so the name set is the one read back.
        c = redis.Redis(single_connection_client=True, **self.kwargs)
        try:
            eq(c.client_getname(), None, "client_getname before setname")
            eq(c.client_setname("contract-py"), True, "client_setname")
            # str in the default and RESP2 modes; redis-py's explicit-RESP3 callbacks leave bytes.
            eq(redis.utils.str_if_bytes(c.client_getname()), "contract-py", "client_getname")
            client_id = c.client_id()
            check(isinstance(client_id, int) and client_id > 0, f"client_id: {client_id!r}")
            clients = c.client_list()
            check(isinstance(clients, list) and clients, f"client_list: {clients!r}")
            mine = [entry for entry in clients if entry.get("id") == str(client_id)]
            check(len(mine) == 1, f"client_list: no entry with id={client_id}: {clients!r}")
            entry = mine[0]
            eq(entry.get("name"), "contract-py", "client_list name of this connection")
            for field in ("addr", "fd", "age", "idle", "db", "cmd"):
                check(field in entry, f"client_list: field {field!r} missing from {entry!r}")
            eq(entry["db"], "0", "client_list db")
            check(entry["addr"].startswith("127.0.0.1:"), f"client_list addr {entry['addr']!r}")
            # redis-py sends CLIENT SETINFO LIB-NAME/LIB-VER on connect (errors ignored).
            if "lib-name" in entry:
                eq(entry["lib-name"], "redis-py", "client_list lib-name (CLIENT SETINFO on connect)")
            if self.resp3_wire:
                eq(entry.get("resp"), "3", "client_list resp after HELLO 3")
                meta = c.connection.handshake_metadata or {}
                proto = meta.get(b"proto", meta.get("proto"))
                eq(proto, 3, "HELLO 3 reply field proto")
                server = meta.get(b"server", meta.get("server"))
                check(server is not None, f"HELLO 3 reply has no 'server' field: {meta!r}")
            elif "resp" in entry:
                eq(entry["resp"], "2", "client_list resp on RESP2")
            eq(c.select(0), True, "select 0")
        finally:
            c.close()

    def section_server(self):
        r = self.r
        eq(r.flushdb(), True, "flushdb")
        eq(r.dbsize(), 0, "dbsize after flushdb")
        info = r.info()
        check(isinstance(info, dict), f"info(): {type(info)}")
        check("redis_version" in info, f"info(): no redis_version in {sorted(info)[:40]}")
        version = str(info["redis_version"])
        check(version.split(".")[0].isdigit(), f"info(): redis_version {version!r} is not a version")
        for field in ("connected_clients", "uptime_in_seconds", "tcp_port"):
            check(field in info, f"info(): field {field!r} missing")
        eq(info["tcp_port"], self.port, "info() tcp_port")
        check(isinstance(info["connected_clients"], int) and info["connected_clients"] >= 1,
              f"info() connected_clients {info['connected_clients']!r}")
        eq(r.info("keyspace"), {}, "info('keyspace') on an empty database")

        r.mset({"ks:a": "1", "ks:b": "2", "ks:c": "3"})
        r.set("ks:ttl", "x", ex=1000)
        eq(r.dbsize(), 4, "dbsize")
        keyspace = r.info("keyspace")
        check(isinstance(keyspace.get("db0"), dict), f"info('keyspace'): no db0 dict in {keyspace!r}")
        eq(keyspace["db0"].get("keys"), 4, "info('keyspace') db0 keys")
        eq(keyspace["db0"].get("expires"), 1, "info('keyspace') db0 expires")
        check("avg_ttl" in keyspace["db0"], f"info('keyspace') db0 has no avg_ttl: {keyspace!r}")
        server = r.info("server")
        check("redis_version" in server, f"info('server'): {server!r}")
        check("db0" not in server, "info('server') contains the keyspace section")
        everything = r.info("everything")
        check("redis_version" in everything and "db0" in everything, "info('everything')")

        eq(r.config_get("maxmemory"), {"maxmemory": "0"}, "config_get('maxmemory')")
        check("maxmemory" in r.config_get("max*"), "config_get('max*')")
        eq(r.flushdb(), True, "flushdb")
        eq(r.dbsize(), 0, "dbsize after flushdb")
        eq(r.info("keyspace"), {}, "info('keyspace') after flushdb")

    # ---------------------------------------------------------------- strings, keys, TTLs

    def section_strings(self):
        r = self.r
        eq(r.set("s:a", "1"), True, "set")
        eq(r.get("s:a"), b"1", "get")
        eq(r.get("s:missing"), None, "get missing")
        eq(r.set("s:a", "2", nx=True), None, "set nx on an existing key")
        eq(r.set("s:new", "n", nx=True), True, "set nx on a new key")
        eq(r.set("s:nope", "n", xx=True), None, "set xx on a missing key")
        eq(r.set("s:a", "3", get=True), b"1", "set get")
        eq(r.setnx("s:a", "4"), False, "setnx existing")
        eq(r.getset("s:a", "5"), b"3", "getset")
        eq(r.incr("s:n"), 1, "incr new")
        eq(r.incr("s:n", 10), 11, "incr by")
        eq(r.incrby("s:n", 5), 16, "incrby")
        eq(r.decr("s:n"), 15, "decr")
        eq(r.decrby("s:n", 20), -5, "decrby")
        eq(r.incrbyfloat("s:f", 1.5), 1.5, "incrbyfloat")
        eq(r.incrbyfloat("s:f", "0.25"), 1.75, "incrbyfloat again")
        raises(lambda: r.incr("s:f"), "not an integer", "incr on a float")
        eq(r.mset({"s:m1": "x", "s:m2": "y", "s:m3": "z"}), True, "mset")
        eq(r.mget(["s:m1", "s:missing", "s:m3"]), [b"x", None, b"z"], "mget")
        eq(r.mget("s:m1", "s:m2"), [b"x", b"y"], "mget varargs")
        eq(r.msetnx({"s:m1": "q", "s:m9": "q"}), False, "msetnx with an existing key")
        eq(r.exists("s:m9"), 0, "msetnx set nothing")
        eq(r.append("s:m1", "yz"), 3, "append")
        eq(r.strlen("s:m1"), 3, "strlen")
        eq(r.getrange("s:m1", 1, -1), b"yz", "getrange")
        eq(r.setrange("s:m1", 1, "AB"), 3, "setrange")
        eq(r.get("s:m1"), b"xAB", "get after setrange")
        eq(r.getdel("s:m2"), b"y", "getdel")
        eq(r.exists("s:m2"), 0, "exists after getdel")
        eq(r.exists("s:m1", "s:m3", "s:nope"), 2, "exists many")
        eq(r.type("s:m1"), b"string", "type")
        eq(r.type("s:nope"), b"none", "type missing")
        eq(r.rename("s:m3", "s:m4"), True, "rename")
        eq(r.renamenx("s:m4", "s:m1"), False, "renamenx onto existing")
        eq(r.copy("s:m4", "s:m5"), True, "copy")
        eq(r.get("s:m5"), b"z", "get copy")
        eq(r.delete("s:m4", "s:m5", "s:nope"), 2, "delete")
        eq(r.unlink("s:m1"), 1, "unlink")
        big = b"v" * 300_000
        eq(r.set("s:big", big), True, "set 300 kB value")
        eq(r.get("s:big"), big, "get 300 kB value")
        raises(lambda: r.execute_command("GET"), "wrong number of arguments for 'get' command", "arity error")

        s = self.s
        eq(s.set("s:str", "h\u00e9llo \u2603"), True, "set (decode_responses)")
        eq(s.get("s:str"), "h\u00e9llo \u2603", "get (decode_responses)")
        eq(s.mget("s:str", "s:missing"), ["h\u00e9llo \u2603", None], "mget (decode_responses)")
        eq(s.type("s:str"), "string", "type (decode_responses)")
        eq(s.incr("s:dn"), 1, "incr (decode_responses)")

    def section_ttl(self):
        r = self.r
        eq(r.set("t:ex", "v", ex=100), True, "set ex")
        ttl = r.ttl("t:ex")
        check(98 <= ttl <= 100, f"ttl after set ex=100: {ttl}")
        pttl = r.pttl("t:ex")
        check(98_000 <= pttl <= 100_000, f"pttl after set ex=100: {pttl}")
        eq(r.set("t:px", "v", px=100_000), True, "set px")
        check(98 <= r.ttl("t:px") <= 100, "ttl after set px")
        eq(r.ttl("t:missing"), -2, "ttl missing")
        eq(r.set("t:plain", "v"), True, "set plain")
        eq(r.ttl("t:plain"), -1, "ttl without expiry")
        eq(r.expire("t:plain", 50), True, "expire")
        check(48 <= r.ttl("t:plain") <= 50, "ttl after expire")
        eq(r.expire("t:plain", 10, gt=True), False, "expire gt with a smaller ttl")
        eq(r.expire("t:plain", 500, gt=True), True, "expire gt with a bigger ttl")
        eq(r.expire("t:missing", 10), False, "expire missing")
        eq(r.persist("t:plain"), True, "persist")
        eq(r.ttl("t:plain"), -1, "ttl after persist")
        eq(r.persist("t:plain"), False, "persist without ttl")
        eq(r.pexpire("t:plain", 100_000), True, "pexpire")
        at = int(time.time()) + 1000
        eq(r.expireat("t:plain", at), True, "expireat")
        eq(r.expiretime("t:plain"), at, "expiretime")
        eq(r.pexpiretime("t:plain"), at * 1000, "pexpiretime")
        eq(r.setex("t:setex", 60, "v"), True, "setex")
        check(58 <= r.ttl("t:setex") <= 60, "ttl after setex")
        eq(r.psetex("t:psetex", 60_000, "v"), True, "psetex")

        eq(r.getex("t:plain", ex=200), b"v", "getex ex")
        check(198 <= r.ttl("t:plain") <= 200, f"ttl after getex ex=200: {r.ttl('t:plain')}")
        eq(r.getex("t:plain", persist=True), b"v", "getex persist")
        eq(r.ttl("t:plain"), -1, "ttl after getex persist")
        eq(r.getex("t:plain"), b"v", "getex without options")
        eq(r.getex("t:missing", ex=5), None, "getex missing")
        eq(r.set("t:keep", "v", ex=100), True, "set ex")
        eq(r.set("t:keep", "w", keepttl=True), True, "set keepttl")
        check(98 <= r.ttl("t:keep") <= 100, "ttl after set keepttl")

        # Keys really expire.
        eq(r.set("t:short", "v", px=60), True, "set px=60")
        eq(r.psetex("t:short2", 60, "v"), True, "psetex 60")
        time.sleep(0.2)
        eq(r.get("t:short"), None, "get after expiry")
        eq(r.exists("t:short2"), 0, "exists after expiry")
        eq(r.ttl("t:short"), -2, "ttl after expiry")

    def section_binary(self):
        r = self.r  # decode_responses=False
        key = b"bin:\x00\xff\x01key"
        value = bytes(range(256)) * 4 + b"\x00\xff\r\n$-1\r\n"
        eq(r.set(key, value), True, "set binary")
        eq(r.get(key), value, "get binary")
        eq(r.strlen(key), len(value), "strlen binary")
        eq(r.append(key, b"\x00\xff"), len(value) + 2, "append binary")
        eq(r.getrange(key, 0, 3), b"\x00\x01\x02\x03", "getrange binary")
        values = {b"bin:\xff%d" % i: b"\x00" * i + b"\xff" for i in range(20)}
        eq(r.mset(values), True, "mset binary")
        eq(r.mget(list(values)), list(values.values()), "mget binary")
        found = set(r.scan_iter(match=b"bin:\xff*", count=7))
        eq(found, set(values), "scan_iter over binary keys")
        eq(r.exists(key), 1, "exists binary key")
        eq(r.delete(key), 1, "delete binary key")
        eq(r.set(b"bin:empty", b""), True, "set empty value")
        eq(r.get(b"bin:empty"), b"", "get empty value")
        # Bytes that are not UTF-8 come back as bytes; a decode_responses client would fail
        # to decode them, which is the client's business, not the server's.

    # ---------------------------------------------------------------- pipelines and scan

    def section_pipeline(self):
        r = self.r
        p = r.pipeline(transaction=False)
        n = 2000
        for i in range(n):
            p.set(f"p:{i}", i)
            p.incr(f"p:{i}")
            p.get(f"p:{i}")
        p.mget([f"p:{i}" for i in range(0, n, 100)])
        p.exists(*[f"p:{i}" for i in range(n)])
        p.execute_command("NOSUCHCOMMAND", "x")  # an error in the middle must not stop the rest
        p.dbsize()
        p.ping()
        results = p.execute(raise_on_error=False)
        eq(len(results), 3 * n + 5, "pipeline result count")
        for i in range(n):
            got = results[3 * i: 3 * i + 3]
            if got != [True, i + 1, str(i + 1).encode()]:
                raise ContractFailure(f"pipeline results for p:{i}: {got!r}")
        eq(results[3 * n], [str(i + 1).encode() for i in range(0, n, 100)], "pipeline mget")
        eq(results[3 * n + 1], n, "pipeline exists")
        check(isinstance(results[3 * n + 2], redis.exceptions.ResponseError)
              and "unknown command" in str(results[3 * n + 2]),
              f"pipeline unknown command: {results[3 * n + 2]!r}")
        check(results[3 * n + 3] >= n, f"pipeline dbsize {results[3 * n + 3]!r}")
        eq(results[3 * n + 4], True, "pipeline ping")

        with r.pipeline(transaction=False) as p:
            for i in range(n):
                p.delete(f"p:{i}")
            eq(p.execute(), [1] * n, "pipeline deletes")

    def section_scan(self):
        r = self.r
        n = 5000
        eq(r.flushdb(), True, "flushdb")
        p = r.pipeline(transaction=False)
        for start in range(0, n, 500):
            p.mset({f"scan:{i}": i for i in range(start, min(n, start + 500))})
        p.execute()
        p = r.pipeline(transaction=False)
        for i in range(0, n, 10):
            p.set(f"scan:{i}", i, ex=1000)
        p.execute()

        deadline = time.time() + 30
        seen = []
        for key in r.scan_iter(match="scan:*", count=250):
            seen.append(key)
            check(time.time() < deadline, "scan_iter did not finish within 30 s")
        eq(len(set(seen)), n, "distinct keys from scan_iter(match='scan:*')")
        check(len(seen) <= 2 * n, f"scan_iter returned {len(seen)} keys for {n}")
        eq(set(seen), {f"scan:{i}".encode() for i in range(n)}, "keys from scan_iter")

        expected = {f"scan:{i}".encode() for i in range(n) if str(i).startswith("12")}
        eq(set(r.scan_iter(match="scan:12*", count=1000)), expected, "scan_iter(match='scan:12*')")
        eq(set(r.scan_iter(match="scan:4?9", count=100)),
           {f"scan:4{d}9".encode() for d in range(10)}, "scan_iter(match='scan:4?9')")
        eq(set(r.scan_iter(match="nomatch:*", count=500)), set(), "scan_iter with no match")
        eq(len(set(r.scan_iter(match="scan:*", _type="string", count=1000))), n, "scan_iter _type=string")
        eq(set(self.s.scan_iter(match="scan:49*9", count=1000)),
           {f"scan:49{d}9" for d in range(10)} | {"scan:499"}, "scan_iter (decode_responses)")
        cursor, keys = r.scan(0, match="scan:*", count=100)
        check(isinstance(cursor, int) and isinstance(keys, list), f"scan(): {cursor!r}, {keys!r}")
        eq(len(r.keys("scan:1?")), 10, "keys('scan:1?')")
        eq(r.dbsize(), n, "dbsize after loading the scan keys")
        eq(r.info("keyspace")["db0"]["expires"], n // 10, "info('keyspace') expires")

    # ---------------------------------------------------------------- collections

    def section_hashes(self):
        r = self.r
        eq(r.hset("h:1", mapping={"a": "1", "b": "2"}), 2, "hset mapping")
        eq(r.hset("h:1", "c", "3"), 1, "hset field")
        eq(r.hset("h:1", "a", "10"), 0, "hset existing field")
        eq(r.hset("h:1", items=["d", "4", "e", "5"]), 2, "hset items")
        eq(r.hget("h:1", "a"), b"10", "hget")
        eq(r.hget("h:1", "zz"), None, "hget missing field")
        eq(r.hgetall("h:1"), {b"a": b"10", b"b": b"2", b"c": b"3", b"d": b"4", b"e": b"5"}, "hgetall")
        eq(r.hgetall("h:missing"), {}, "hgetall missing")
        eq(r.hmget("h:1", ["a", "zz", "c"]), [b"10", None, b"3"], "hmget")
        eq(r.hlen("h:1"), 5, "hlen")
        eq(sorted(r.hkeys("h:1")), [b"a", b"b", b"c", b"d", b"e"], "hkeys")
        eq(sorted(r.hvals("h:1")), [b"10", b"2", b"3", b"4", b"5"], "hvals")
        eq(r.hexists("h:1", "a"), True, "hexists")
        eq(r.hexists("h:1", "zz"), False, "hexists missing")
        eq(r.hincrby("h:1", "n", 5), 5, "hincrby new")
        eq(r.hincrby("h:1", "n", -7), -2, "hincrby")
        eq(r.hincrbyfloat("h:1", "f", 1.5), 1.5, "hincrbyfloat")
        raises(lambda: r.hincrby("h:1", "f", 1), "not an integer", "hincrby on a float field")
        eq(r.hsetnx("h:1", "a", "x"), 0, "hsetnx existing")
        eq(r.hstrlen("h:1", "a"), 2, "hstrlen")
        eq(r.hdel("h:1", "a", "b", "zz"), 2, "hdel")
        eq(r.type("h:1"), b"hash", "type hash")
        r.set("h:str", "x")
        raises(lambda: r.hget("h:str", "a"), "WRONGTYPE", "hget on a string")
        raises(lambda: r.get("h:1"), "WRONGTYPE", "get on a hash")

        fields = {f"f{i}": f"v{i}" for i in range(1500)}
        eq(r.hset("h:big", mapping=fields), 1500, "hset 1500 fields")
        seen = dict(r.hscan_iter("h:big", count=100))
        eq(len(seen), 1500, "hscan_iter count")
        eq(seen, {k.encode(): v.encode() for k, v in fields.items()}, "hscan_iter")
        matched = dict(r.hscan_iter("h:big", match="f1?", count=50))
        eq(matched, {f"f1{d}".encode(): f"v1{d}".encode() for d in range(10)}, "hscan_iter match")
        eq(r.hscan("h:missing"), (0, {}), "hscan missing")

        binary = {b"\x00\xff": b"\xff\x00", b"k\r\n": b"\x00"}
        eq(r.hset(b"h:\xff", mapping=binary), 2, "hset binary")
        eq(r.hgetall(b"h:\xff"), binary, "hgetall binary")

        s = self.s
        eq(s.hset("h:s", mapping={"n\u00e9": "v\u00e9"}), 1, "hset (decode_responses)")
        eq(s.hgetall("h:s"), {"n\u00e9": "v\u00e9"}, "hgetall (decode_responses)")
        eq(s.type("h:s"), "hash", "type (decode_responses)")

    def section_sets(self):
        r = self.r
        eq(r.sadd("st:a", "1", "2", "3", "3"), 3, "sadd")
        eq(r.sadd("st:a", "3", "4"), 1, "sadd again")
        eq(r.smembers("st:a"), {b"1", b"2", b"3", b"4"}, "smembers")
        eq(r.smembers("st:missing"), set(), "smembers missing")
        eq(r.sismember("st:a", "2"), 1, "sismember")
        eq(r.sismember("st:a", "9"), 0, "sismember missing")
        eq(r.smismember("st:a", ["1", "9"]), [1, 0], "smismember")
        eq(r.scard("st:a"), 4, "scard")
        r.sadd("st:b", "3", "4", "5")
        eq(r.sinter("st:a", "st:b"), {b"3", b"4"}, "sinter")
        eq(r.sunion("st:a", "st:b"), {b"1", b"2", b"3", b"4", b"5"}, "sunion")
        eq(r.sdiff("st:a", "st:b"), {b"1", b"2"}, "sdiff")
        eq(r.sinterstore("st:c", ["st:a", "st:b"]), 2, "sinterstore")
        eq(r.smembers("st:c"), {b"3", b"4"}, "smembers after sinterstore")
        eq(r.srem("st:a", "1", "9"), 1, "srem")
        eq(r.smove("st:a", "st:b", "2"), True, "smove")
        popped = r.spop("st:b")
        check(popped in {b"2", b"3", b"4", b"5"}, f"spop: {popped!r}")
        eq(r.scard("st:b"), 3, "scard after spop")
        check(r.srandmember("st:b") in {b"2", b"3", b"4", b"5"}, "srandmember")
        eq(len(r.srandmember("st:b", 2)), 2, "srandmember count")
        eq(r.type("st:a"), b"set", "type set")
        r.set("st:string", "v")
        raises(lambda: r.sadd("st:string", "x"), "WRONGTYPE", "sadd on a string")

        members = [f"m{i}" for i in range(2000)]
        p = r.pipeline(transaction=False)
        for start in range(0, len(members), 500):
            p.sadd("st:big", *members[start:start + 500])
        eq(sum(p.execute()), 2000, "sadd 2000 members")
        seen = list(r.sscan_iter("st:big", count=100))
        eq(set(seen), {m.encode() for m in members}, "sscan_iter")
        check(len(seen) <= 4000, f"sscan_iter returned {len(seen)} members for 2000")
        eq(set(r.sscan_iter("st:big", match="m19?")), {f"m19{d}".encode() for d in range(10)},
           "sscan_iter match")

        eq(r.sadd(b"st:\x00", b"\x00\xff", b"\xff"), 2, "sadd binary")
        eq(r.smembers(b"st:\x00"), {b"\x00\xff", b"\xff"}, "smembers binary")
        eq(self.s.smembers("st:c"), {"3", "4"}, "smembers (decode_responses)")

    def section_lists(self):
        r = self.r
        eq(r.lpush("l:a", "b", "a"), 2, "lpush")
        eq(r.rpush("l:a", "c", "d", "e"), 5, "rpush")
        eq(r.lrange("l:a", 0, -1), [b"a", b"b", b"c", b"d", b"e"], "lrange")
        eq(r.lrange("l:a", 1, 2), [b"b", b"c"], "lrange slice")
        eq(r.lrange("l:missing", 0, -1), [], "lrange missing")
        eq(r.llen("l:a"), 5, "llen")
        eq(r.lindex("l:a", -1), b"e", "lindex")
        eq(r.lpop("l:a"), b"a", "lpop")
        eq(r.lpop("l:a", 2), [b"b", b"c"], "lpop count")
        eq(r.rpop("l:a"), b"e", "rpop")
        eq(r.lpop("l:missing", 2), None, "lpop count on a missing key")
        eq(r.lpop("l:missing"), None, "lpop missing")
        r.rpush("l:b", "1", "2", "3")
        eq(r.lmove("l:b", "l:c", "LEFT", "RIGHT"), b"1", "lmove LEFT RIGHT")
        eq(r.lmove("l:b", "l:c", "RIGHT", "LEFT"), b"3", "lmove RIGHT LEFT")
        eq(r.lrange("l:c", 0, -1), [b"3", b"1"], "lrange after lmove")
        eq(r.rpoplpush("l:b", "l:c"), b"2", "rpoplpush")
        eq(r.lrange("l:c", 0, -1), [b"2", b"3", b"1"], "lrange after rpoplpush")
        eq(r.exists("l:b"), 0, "emptied list is deleted")
        eq(r.lset("l:c", 0, "x"), True, "lset")
        eq(r.linsert("l:c", "BEFORE", "x", "w"), 4, "linsert")
        eq(r.lrem("l:c", 0, "w"), 1, "lrem")
        eq(r.ltrim("l:c", 0, 1), True, "ltrim")
        eq(r.lrange("l:c", 0, -1), [b"x", b"3"], "lrange after ltrim")
        eq(r.lpos("l:c", "3"), 1, "lpos")
        eq(r.type("l:c"), b"list", "type list")
        r.set("l:string", "v")
        raises(lambda: r.lpush("l:string", "x"), "WRONGTYPE", "lpush on a string")
        items = [f"i{i}".encode() for i in range(3000)]
        eq(r.rpush("l:big", *items), 3000, "rpush 3000")
        eq(r.lrange("l:big", 0, -1), items, "lrange 3000")
        eq(r.lpush(b"l:\xff", b"\x00\xff", b""), 2, "lpush binary")
        eq(r.lrange(b"l:\xff", 0, -1), [b"", b"\x00\xff"], "lrange binary")
        eq(self.s.lrange("l:c", 0, -1), ["x", "3"], "lrange (decode_responses)")

    def section_zsets(self):
        r = self.r
        pair = self.pair
        eq(r.zadd("z:a", {"a": 1, "b": 2.5, "c": -3}), 3, "zadd")
        eq(r.zadd("z:a", {"a": 1.5, "d": 4}), 1, "zadd update")
        eq(r.zadd("z:a", {"a": 2}, ch=True), 1, "zadd ch")
        eq(r.zadd("z:a", {"e": 5}, nx=True), 1, "zadd nx")
        eq(r.zadd("z:a", {"a": 1}, incr=True), 3.0, "zadd incr")
        eq(r.zrange("z:a", 0, -1), [b"c", b"b", b"a", b"d", b"e"], "zrange")
        eq(r.zrange("z:a", 0, -1, withscores=True),
           [pair(b"c", -3.0), pair(b"b", 2.5), pair(b"a", 3.0), pair(b"d", 4.0), pair(b"e", 5.0)],
           "zrange withscores")
        eq(r.zrange("z:a", 0, 1, desc=True, withscores=True), [pair(b"e", 5.0), pair(b"d", 4.0)],
           "zrange desc withscores")
        eq(r.zrevrange("z:a", 0, 0), [b"e"], "zrevrange")
        eq(r.zscore("z:a", "b"), 2.5, "zscore")
        check(isinstance(r.zscore("z:a", "b"), float), "zscore is a float")
        eq(r.zscore("z:a", "nope"), None, "zscore missing member")
        eq(r.zmscore("z:a", ["b", "nope"]), [2.5, None], "zmscore")
        eq(r.zrank("z:a", "a"), 2, "zrank")
        eq(r.zrank("z:a", "nope"), None, "zrank missing")
        eq(r.zrevrank("z:a", "a"), 2, "zrevrank")
        eq(r.zcard("z:a"), 5, "zcard")
        eq(r.zcount("z:a", 2, 4), 3, "zcount")
        eq(r.zrangebyscore("z:a", 2, 4), [b"b", b"a", b"d"], "zrangebyscore")
        eq(r.zrangebyscore("z:a", "(2.5", "+inf", withscores=True),
           [pair(b"a", 3.0), pair(b"d", 4.0), pair(b"e", 5.0)], "zrangebyscore withscores")
        eq(r.zrangebyscore("z:a", "-inf", "+inf", start=1, num=2), [b"b", b"a"], "zrangebyscore limit")
        eq(r.zrevrangebyscore("z:a", 4, 2), [b"d", b"a", b"b"], "zrevrangebyscore")
        eq(r.zrange("z:a", 2, 4, byscore=True), [b"b", b"a", b"d"], "zrange byscore")
        eq(r.zincrby("z:a", 2, "b"), 4.5, "zincrby")
        check(isinstance(r.zincrby("z:a", 0, "b"), float), "zincrby is a float")
        eq(r.zincrby("z:a", 0.25, "new"), 0.25, "zincrby new member")
        eq(r.zrem("z:a", "new", "nope"), 1, "zrem")
        # redis-py's explicit-RESP3 callbacks pass RESP3's flat [member, score] through.
        eq(r.zpopmin("z:a"), [b"c", -3.0] if self.protocol == "3" else [(b"c", -3.0)], "zpopmin")
        eq(r.type("z:a"), b"zset", "type zset")
        r.set("z:string", "v")
        raises(lambda: r.zadd("z:string", {"x": 1}), "WRONGTYPE", "zadd on a string")
        raises(lambda: r.zadd("z:a", {"x": "notanumber"}), "not a valid float", "zadd bad score")

        members = {f"m{i}": i * 0.5 for i in range(1500)}
        eq(r.zadd("z:big", members), 1500, "zadd 1500")
        seen = list(r.zscan_iter("z:big", count=100))
        eq(dict(seen), {k.encode(): v for k, v in members.items()}, "zscan_iter")
        check(all(isinstance(score, float) for _, score in seen), "zscan_iter scores are floats")
        eq(dict(r.zscan_iter("z:big", match="m14?")), {f"m14{d}".encode(): (140 + d) * 0.5 for d in range(10)},
           "zscan_iter match")

        eq(r.zadd(b"z:\xff", {b"\x00\xff": 1, b"\xff": 2}), 2, "zadd binary")
        eq(r.zrange(b"z:\xff", 0, -1), [b"\x00\xff", b"\xff"], "zrange binary")
        eq(self.s.zrange("z:a", 0, 0, withscores=True), [self.pair("a", 3.0)],
           "zrange withscores (decode_responses)")
        eq(self.s.zscore("z:a", "d"), 4.0, "zscore (decode_responses)")

    def section_pubsub(self):
        r = self.r
        p = r.pubsub()
        p.subscribe("news")
        p.psubscribe("sport.*")
        deadline = time.time() + 5
        confirmations = []
        while len(confirmations) < 2 and time.time() < deadline:
            message = p.get_message(timeout=0.5)
            if message:
                confirmations.append(message["type"])
        eq(sorted(confirmations), ["psubscribe", "subscribe"], "subscribe confirmations")
        eq(r.publish("news", "hello"), 1, "publish to a channel")
        eq(r.publish("sport.tennis", b"\x00ace"), 1, "publish to a pattern")
        eq(r.publish("nobody", "x"), 0, "publish without subscribers")
        received = []
        while len(received) < 2 and time.time() < deadline:
            message = p.get_message(timeout=0.5)
            if message and message["type"] in ("message", "pmessage"):
                received.append((message["type"], message["channel"], message["data"]))
        eq(received, [("message", b"news", b"hello"), ("pmessage", b"sport.tennis", b"\x00ace")], "messages in order")
        eq(r.pubsub_numsub("news"), [(b"news", 1)], "pubsub numsub")
        eq(r.pubsub_numpat(), 1, "pubsub numpat")
        p.unsubscribe("news")
        p.punsubscribe("sport.*")
        p.close()

    def section_transactions(self):
        r = self.r
        r.set("tx:balance", 10)
        with r.pipeline(transaction=True) as pipe:
            pipe.incrby("tx:balance", 5).set("tx:note", "paid").get("tx:balance")
            eq(pipe.execute(), [15, True, b"15"], "MULTI/EXEC pipeline")
        with r.pipeline() as pipe:
            pipe.watch("tx:balance")
            other = redis.Redis(**self.kwargs)
            other.set("tx:balance", 99)
            other.close()
            pipe.multi()
            pipe.set("tx:balance", 0)
            try:
                pipe.execute()
                check(False, "WATCH conflict must abort EXEC")
            except redis.exceptions.WatchError:
                pass
        eq(r.get("tx:balance"), b"99", "aborted transaction changed nothing")

    def section_cleanup(self):
        eq(self.r.flushdb(), True, "flushdb")
        eq(self.r.dbsize(), 0, "dbsize at the end")


SECTIONS = ["connection", "server", "strings", "ttl", "binary", "pipeline", "scan",
            "hashes", "sets", "lists", "zsets", "pubsub", "transactions", "cleanup"]


def main():
    warnings.simplefilter("ignore", DeprecationWarning)  # redis-py marks setex/getset deprecated
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--protocol", choices=["default", "2", "3"], default="default")
    parser.add_argument("--keep-going", action="store_true")
    parser.add_argument("--only", help="comma-separated sections to run")
    args = parser.parse_args()

    contract = Contract(args.port, args.protocol)
    sections = args.only.split(",") if args.only else SECTIONS
    label = f"redis-py {redis.__version__}, protocol={args.protocol}, port {args.port}"
    failures = []
    try:
        contract.r.flushdb()
    except Exception as error:
        print(f"FAIL [{label}] cannot start: FLUSHDB: {type(error).__name__}: {error}", flush=True)
        return 1
    for name in sections:
        started = time.time()
        try:
            getattr(contract, "section_" + name)()
        except Exception as error:  # a ContractFailure, an unexpected error reply, or redis-py rejecting a reply
            kind = "" if isinstance(error, ContractFailure) else f"{type(error).__name__}: "
            where = traceback.extract_tb(error.__traceback__)
            line = next((f.lineno for f in reversed(where)
                         if f.filename == __file__ and f.name not in ("check", "eq", "raises", "<lambda>")), "?")
            print(f"FAIL [{label}] section {name} (line {line}): {kind}{error}", flush=True)
            if not isinstance(error, (ContractFailure, redis.exceptions.ResponseError)):
                traceback.print_exc(file=sys.stdout)  # redis-py could not take a reply: show where
            failures.append(name)
            if not args.keep_going:
                return 1
            continue
        print(f"ok   [{label}] section {name} ({time.time() - started:.2f}s)", flush=True)
    if failures:
        print(f"FAILED sections: {', '.join(failures)}", flush=True)
        return 1
    print(f"PASS [{label}]", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
