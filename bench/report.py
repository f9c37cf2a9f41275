#!/usr/bin/env python3
"""Turns bench/run.sh's raw figures (one JSON object a line) into the table
and the targets of bench/README.md, and writes them all as one JSON file."""

import json
import os
import statistics
import sys

raw_path, out_path = sys.argv[1], sys.argv[2]
rows = [json.loads(line) for line in open(raw_path) if line.strip()]
tick = os.sysconf("SC_CLK_TCK")

# Every load ran BENCH_REPEAT times, interleaved with the others; each
# figure below is the median of its runs (all runs are kept under "runs").
sets = {}
for r in rows:
    s = sets.setdefault(r["set"], {"wrk": {}, "oha": {}, "pgbench": {}, "pgbench_open": {}, "server": {}, "instructions": {}})
    if "instructions" in r:
        s["instructions"][r["mode"]] = r["instructions"]
    elif "wrk" in r:
        w = r["wrk"]
        secs = w["duration_us"] / 1e6
        s["wrk"].setdefault(r["mode"], {"runs": []})["runs"].append({
            "rps": w["requests"] / secs,
            "p50_ms": w["p50_us"] / 1000,
            "p99_ms": w["p99_us"] / 1000,
            "errors": w["errors"] + w["non_2xx"],
            "cpu_s_per_1k": (r["cpu_ticks"] / tick) / max(w["requests"], 1) * 1000,
        })
    elif "oha" in r:
        s["oha"][r["mode"]] = {"rate": r["rate"], "p50_ms": r["oha"]["p50_s"] * 1000, "p99_ms": r["oha"]["p99_s"] * 1000,
                               "success": r["oha"]["success"]}
    elif "pgbench_open" in r:
        s["pgbench_open"][r["pgbench_open"]] = {k: r[k] for k in ("rate", "p50_ms", "p99_ms", "transactions")}
    elif "pgbench" in r:
        s["pgbench"].setdefault(r["pgbench"], {"runs": []})["runs"].append(
            {"tps": r["tps"], "latency_avg_ms": r["latency_avg_ms"]})
    else:
        s["server"].update({k: v for k, v in r.items() if k != "set"})

for s in sets.values():
    for group in (s["wrk"], s["pgbench"]):
        for entry in group.values():
            runs = entry["runs"]
            for field in runs[0]:
                entry[field] = statistics.median(run[field] for run in runs)


def ratio(a, b):
    return a / b if a and b else None


targets = []


def target(name, value, ok):
    targets.append({"target": name, "value": value, "met": bool(ok) if value is not None else False})


for name, s in sets.items():
    w, o, p, srv, ins = s["wrk"], s["oha"], s["pgbench"], s["server"], s["instructions"]
    print(f"\n## data set {name}\n")
    print("| endpoint | req/s | p50 ms | p99 ms | open-loop p99 ms (rate) | CPU s / 1k req | instructions / req | vs pipelined | vs sequence | vs bare query | vs hello |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    limits = {"list": ("list_seq", "list_bare"), "get": ("get_seq", "get_bare"), "create": ("create_seq", None)}
    pipelined = {"list": "list_pipe", "get": "get_pipe", "create": "create_pipe"}
    for kind in ["list", "get"]:
        limits[f"{kind}_bearer"] = limits[f"{kind}_uncached"] = limits[kind]
    for mode in ["hello", "get_nokey", "list", "get", "list_bearer", "get_bearer", "list_uncached", "get_uncached", "create", "mixed"]:
        if mode not in w:
            continue
        m = w[mode]
        seq, bare = limits.get(mode, (None, None))
        pipe = pipelined.get(mode)
        vs_pipe = ratio(m["rps"], p.get(pipe, {}).get("tps")) if pipe else None
        vs_seq = ratio(m["rps"], p.get(seq, {}).get("tps")) if seq else None
        vs_bare = ratio(m["rps"], p.get(bare, {}).get("tps")) if bare else None
        vs_hello = ratio(m["rps"], w.get("hello", {}).get("rps"))
        ol = o.get(mode)
        ol_txt = f"{ol['p99_ms']:.2f} ({ol['rate']}/s)" if ol else ""
        pct = lambda x: f"{x:.0%}" if x is not None else ""
        instr = f"{ins[mode]:,}" if mode in ins else ""
        print(
            f"| {mode} | {m['rps']:.0f} | {m['p50_ms']:.2f} | {m['p99_ms']:.2f} | {ol_txt} | {m['cpu_s_per_1k']:.3f} | "
            f"{instr} | {pct(vs_pipe)} | {pct(vs_seq)} | {pct(vs_bare)} | {pct(vs_hello)} |"
        )
        m.update({"vs_pipelined": vs_pipe, "vs_sequence": vs_seq, "vs_bare": vs_bare, "vs_hello": vs_hello})
    print("\n| pgbench (64 clients) | tps (median) | runs | avg latency ms |\n|---|---:|---:|---:|")
    for k, v in p.items():
        runs = ", ".join(f"{r['tps']:.0f}" for r in v["runs"])
        print(f"| {k} | {v['tps']:.0f} | {runs} | {v['latency_avg_ms']} |")
    if any(mode in o for mode in ("list", "get", "create")):
        # The open loop beside what the machine alone (hello) and the
        # database alone (the pipelined statements, pgbench -R) take at the
        # same rate, all measured from each request's scheduled start.
        print("\n| open loop, half the closed-loop maximum | rate | p50 ms | p99 ms | hello p99 ms | pipelined statements p99 ms | p99 less both |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for mode in ("list", "get", "create"):
            if mode not in o:
                continue
            ours, hello, db = o[mode], o.get(f"hello@{mode}"), s["pgbench_open"].get(mode)
            both = hello["p99_ms"] + db["p99_ms"] if hello and db else None
            cells = [mode, f"{ours['rate']}/s", f"{ours['p50_ms']:.2f}", f"{ours['p99_ms']:.2f}",
                     f"{hello['p99_ms']:.2f}" if hello else "", f"{db['p99_ms']:.2f}" if db else "",
                     f"{ours['p99_ms'] - both:.2f}" if both is not None else ""]
            print("| " + " | ".join(cells) + " |")
    if any(mode.startswith("limits_") for mode in w):
        # The request budgets' cost, each variant against its own baseline
        # (the budgets off, with the same Redis or none) in the same run.
        print("\n| request budgets | req/s off | req/s on | on / off | p99 ms off | p99 ms on | instructions / req off | on |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for mode in ("get", "create"):
            for where in ("local", "redis"):
                off, on = w.get(f"limits_{mode}_off_{where}"), w.get(f"limits_{mode}_{where}")
                if not off or not on:
                    continue
                r = ratio(on["rps"], off["rps"])
                i_off, i_on = ins.get(f"limits_{mode}_off_{where}"), ins.get(f"limits_{mode}_{where}")
                label = "in process" if where == "local" else "Redis"
                print(
                    f"| {mode}, {label} | {off['rps']:.0f} | {on['rps']:.0f} | {r:.0%} | {off['p99_ms']:.2f} | "
                    f"{on['p99_ms']:.2f} | {f'{i_off:,}' if i_off else ''} | {f'{i_on:,}' if i_on else ''} |"
                )
                on["vs_budgets_off"] = r
                target(f"rate limiter cost <= 10% ({mode}, {label})", 1 - r, r >= 0.90)
    if "idem_create" in w and "idem_create_idem" in w:
        # The idempotency keys' cost on create, against creates without a
        # key in the same run; and what a get costs now (its ETag).
        off, on = w["idem_create"], w["idem_create_idem"]
        r = ratio(on["rps"], off["rps"])
        print("\n| idempotency keys | req/s without | req/s with | with / without | p99 ms without | p99 ms with |")
        print("|---|---:|---:|---:|---:|---:|")
        print(f"| create | {off['rps']:.0f} | {on['rps']:.0f} | {r:.0%} | {off['p99_ms']:.2f} | {on['p99_ms']:.2f} |")
        if ins.get("idem_get"):
            print(f"\nget (with its ETag): {ins['idem_get']:,} instructions per request")
        target("idempotency cost <= 10% (create)", 1 - r, r >= 0.90)
    print(
        f"\nserver: cold start {srv.get('cold_start_ms')} ms, idle RSS {srv.get('idle_rss_kb', 0) / 1024:.1f} MB, "
        f"peak RSS {srv.get('peak_rss_kb', 0) / 1024:.1f} MB"
    )
    if name == "1k":
        for mode in ["get", "list"]:
            if mode in w:
                target(f"{mode} >= 40% of its pgbench sequence", w[mode].get("vs_sequence"), (w[mode].get("vs_sequence") or 0) >= 0.40)
                target(f"{mode} >= 25% of the bare query", w[mode].get("vs_bare"), (w[mode].get("vs_bare") or 0) >= 0.25)
        if "create" in w:
            target("create >= 40% of its pgbench sequence", w["create"].get("vs_sequence"), (w["create"].get("vs_sequence") or 0) >= 0.40)
        for mode, share in [("get", 0.60), ("list", 0.50), ("create", 0.50)]:
            if mode in w:
                v = w[mode].get("vs_pipelined")
                target(f"{mode} >= {share:.0%} of its pipelined statements", v, (v or 0) >= share)
        for mode, limit in [("get", 70_000), ("list", 250_000), ("create", 90_000)]:
            if mode in ins:
                target(f"{mode} instructions per request <= {limit:,}", ins[mode], ins[mode] <= limit)
        for mode, limit in [("list", 3), ("get", 3), ("create", 6)]:
            if mode in o:
                target(f"{mode} open-loop p99 <= {limit} ms", o[mode]["p99_ms"], o[mode]["p99_ms"] <= limit)
        if "get_scoped" in p and "get_unscoped" in p:
            cost = 1 - p["get_scoped"]["tps"] / p["get_unscoped"]["tps"]
            target("RLS + tenant setting cost <= 20% (pgbench, get query alone)", cost, cost <= 0.20)
        if "get_seq" in p and "get_norls" in p:
            cost = 1 - p["get_seq"]["tps"] / p["get_norls"]["tps"]
            target("RLS + tenant setting cost <= 20% (pgbench, get's whole sequence)", cost, cost <= 0.20)
        if "get" in w and "get_nokey" in w:
            cost = 1 - w["get"]["rps"] / w["get_nokey"]["rps"]
            target("API-key authentication cost <= 10% (get)", cost, cost <= 0.10)
        if "get_bearer" in w and "get_nokey" in w:
            cost = 1 - w["get_bearer"]["rps"] / w["get_nokey"]["rps"]
            target("bearer-token authentication cost <= 10% (get)", cost, cost <= 0.10)
        target("idle RSS <= 30 MB", srv.get("idle_rss_kb", 0) / 1024, srv.get("idle_rss_kb", 1e9) / 1024 <= 30)
        target("RSS under load <= 150 MB", srv.get("peak_rss_kb", 0) / 1024, srv.get("peak_rss_kb", 1e9) / 1024 <= 150)
        target("cold start <= 500 ms", srv.get("cold_start_ms"), (srv.get("cold_start_ms") or 1e9) <= 500)

if "sqlite" in sets:
    w = sets["sqlite"]["wrk"]
    for mode in ["list", "get"]:
        if mode in w:
            target(f"SQLite: {mode} >= 5,000 req/s", w[mode]["rps"], w[mode]["rps"] >= 5000)

if "1k" in sets and "100k" in sets:
    a, b = sets["1k"]["wrk"], sets["100k"]["wrk"]
    for mode in ["list", "get", "list_uncached", "get_uncached"]:
        if mode in a and mode in b:
            t = b[mode]["rps"] / a[mode]["rps"]
            target(f"100k tenants: {mode} throughput >= 90% of 1k", t, t >= 0.90)
            q = b[mode]["p99_ms"] / a[mode]["p99_ms"]
            target(f"100k tenants: {mode} p99 <= 1.25x of 1k", q, q <= 1.25)

for placed in ["schema", "schema2k"]:
    if placed not in sets or "migrate_noop_ms" not in sets[placed]["server"]:
        continue
    srv = sets[placed]["server"]
    n = srv.get("fleet_tenants")
    print(f"\nfleet ({n} schema tenants): `tenantry migrate` with nothing to do "
          f"{srv['migrate_noop_ms']} ms (the fleet alone {srv.get('fleet_noop_ms', 0):.0f} ms); "
          f"one column added to every tenant {srv.get('fleet_column_ms', 0) / 1000:.1f} s, {srv.get('fleet_failed')} failed")
    target(f"no-op `tenantry migrate` over {n} schema tenants <= 1 s", srv["migrate_noop_ms"] / 1000, srv["migrate_noop_ms"] <= 1000)
    if placed == "schema":
        target(f"a column across {n} schema tenants <= 30 s", srv.get("fleet_column_ms", 1e9) / 1000,
               srv.get("fleet_column_ms", 1e9) <= 30000 and srv.get("fleet_failed") == 0)

for placed, label in [("schema", "schema tenants"), ("schema2k", "2,000 schema tenants"), ("database", "database tenants")]:
    if "1k" in sets and placed in sets:
        a, b = sets["1k"]["wrk"], sets[placed]["wrk"]
        for mode in ["list", "get", "create"]:
            if mode in a and mode in b:
                t = b[mode]["rps"] / a[mode]["rps"]
                target(f"{label}: {mode} throughput >= 90% of shared", t, t >= 0.90)

print("\n| target | value | met |\n|---|---:|:---:|")
for t in targets:
    v = t["value"]
    shown = f"{v:.0%}" if isinstance(v, float) and v < 5 and ("%" in t["target"] or "x" in t["target"]) else (f"{v:.2f}" if isinstance(v, float) else str(v))
    print(f"| {t['target']} | {shown} | {'yes' if t['met'] else 'no'} |")

json.dump({"sets": sets, "targets": targets}, open(out_path, "w"), indent=2)
print(f"\nraw figures: {out_path}")
