"""A paced writer for the move benchmark (bench/move.sh).

Creates projects and renames the ones it created, at a fixed total rate
over a few keep-alive connections, until the file named by --stop exists.
Every request is recorded; the summary (JSON on stdout) gives what a client
saw of a move: writes acknowledged, refused (503 with Retry-After) or
failed otherwise, the client's own refusal window (first to last refused
write), and latency percentiles before the move and during it.
"""

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time


def percentile(values, q):
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 2)


def worker(args, rate, records, lock, stop):
    conn = http.client.HTTPConnection(args.host, args.port, timeout=30)
    headers = {"X-API-Key": args.key, "content-type": "application/json"}
    mine = []
    interval = 1.0 / rate
    due = time.monotonic()
    n = 0
    while not stop.is_set():
        now = time.monotonic()
        if now < due:
            time.sleep(due - now)
        due += interval
        n += 1
        if mine and n % 2 == 0:
            method, path, body = "PATCH", f"/v1/projects/{random.choice(mine)}", {"name": f"renamed {n}"}
        else:
            method, path, body = "POST", "/v1/projects", {"name": f"written {n}"}
        started = time.time()
        try:
            conn.request(method, path, json.dumps(body), headers)
            response = conn.getresponse()
            payload = response.read()
            status = response.status
            retry_after = response.getheader("Retry-After")
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            conn = http.client.HTTPConnection(args.host, args.port, timeout=30)
            status, payload, retry_after = 0, str(e).encode(), None
        ended = time.time()
        if method == "POST" and status == 201:
            mine.append(json.loads(payload)["id"])
        with lock:
            records.append((started, ended, method, status, retry_after is not None))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--stop", required=True, help="stop once this file exists")
    parser.add_argument("--mark", required=True, help="the move's start time (epoch seconds) is read from here")
    args = parser.parse_args()
    records, lock, stop = [], threading.Lock(), threading.Event()
    threads = [
        threading.Thread(target=worker, args=(args, args.rate / args.connections, records, lock, stop))
        for _ in range(args.connections)
    ]
    for t in threads:
        t.start()
    while not os.path.exists(args.stop):
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join()
    with open(args.mark) as f:
        move_started = float(f.read().strip())
    refused = [r for r in records if r[3] == 503]
    acknowledged = [r for r in records if r[3] in (200, 201)]
    before = [r[1] - r[0] for r in acknowledged if r[1] < move_started]
    during = [r[1] - r[0] for r in acknowledged if r[0] >= move_started]
    json.dump(
        {
            "writes": len(records),
            "acknowledged": len(acknowledged),
            "created": sum(1 for r in acknowledged if r[2] == "POST"),
            "refused": len(refused),
            "refused_without_retry_after": sum(1 for r in refused if not r[4]),
            "failed_otherwise": len(records) - len(acknowledged) - len(refused),
            "refusal_window_ms": round((max(r[0] for r in refused) - min(r[0] for r in refused)) * 1000)
            if refused
            else 0,
            "p50_before_ms": percentile(before, 0.5),
            "p99_before_ms": percentile(before, 0.99),
            "p50_during_ms": percentile(during, 0.5),
            "p99_during_ms": percentile(during, 0.99),
        },
        sys.stdout,
    )
    print()


if __name__ == "__main__":
    main()
