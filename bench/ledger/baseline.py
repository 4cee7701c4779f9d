"""Baseline for `bench/ledger/run`: an ordinary SQLite audit table (how LiteLLM and most
services keep audit logs), with the same durability as ward (WAL, synchronous=FULL), no
Merkle tree and no signatures. Prints appends per second, median of 3 runs."""

import json
import os
import sqlite3
import statistics
import sys
import time


def fresh(path):
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE audit(id INTEGER PRIMARY KEY, time TEXT, entry TEXT)")
    return conn


def entry(i):
    return json.dumps({"event": "chat.completion", "model": "gpt-4o-mini", "user": "u-1234",
                       "decision": "allow", "i": i}, sort_keys=True, separators=(",", ":"))


def run(path, count, batch):
    conn = fresh(path)
    start = time.perf_counter()
    for base in range(0, count, batch):
        conn.execute("BEGIN")
        for i in range(base, min(base + batch, count)):
            conn.execute("INSERT INTO audit(time, entry) VALUES (datetime('now'), ?)", (entry(i),))
        conn.execute("COMMIT")
    return count / (time.perf_counter() - start)


def main():
    out, count, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rates = [run(os.path.join(out, "baseline.db"), count, batch) for _ in range(3)]
    print(f"plain SQLite table, {count} inserts committed {batch} per transaction, "
          f"durable appends/s (median of 3): {statistics.median(rates):.0f}")


if __name__ == "__main__":
    main()
