"""The move benchmark's table (bench/move.sh), from bench/results/move.jsonl.

One line per move: the rows copied, the copy's rows per second and its
ratio to the plain copy of the same rows measured in the same tour
(`INSERT … SELECT` for a move within the database, `COPY` between databases
for a move into or out of one), the changes caught up, the write pause as
the mover measured it and as the writer saw it, the writer's refused and
failed writes, its median latency before and during the move, and the
total (with the drain before the old copy goes).
"""

import json
import sys


def main():
    lines = [json.loads(line) for line in open(sys.argv[1])]
    baselines = {(r["tour"], r["baseline"]): r for r in lines if "baseline" in r}
    header = (
        f"{'tour':>4} {'move':<18} {'rows':>7} {'copy ms':>8} {'rows/s':>8} {'x plain':>7} "
        f"{'caught':>6} {'pause':>6} {'seen':>6} {'503s':>5} {'other':>5} {'p50 ms':>13} {'total ms':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in lines:
        if "report" not in r:
            continue
        report, writer, phases = r["report"], r["writer"], r["report"]["phases"]
        between = "database" in (r["move"], r["from"])
        plain = baselines.get((r["tour"], "copy_between_databases" if between else "insert_select"))
        ratio = "-"
        if plain and plain["ms"] > 0 and report["rows_per_sec"] > 0:
            ratio = f"{(plain['rows'] * 1000 / plain['ms']) / report['rows_per_sec']:.2f}"
        latency = f"{writer['p50_before_ms']}/{writer['p50_during_ms']}"
        print(
            f"{r['tour']:>4} {r['from'] + ' -> ' + r['move']:<18} {report['rows_copied']:>7} {phases['copy_ms']:>8} "
            f"{report['rows_per_sec']:>8} {ratio:>7} {report['changes_caught_up']:>6} "
            f"{report['write_pause_ms'] or 0:>6} {writer['refusal_window_ms']:>6} {writer['refused']:>5} "
            f"{writer['failed_otherwise'] + writer['refused_without_retry_after']:>5} {latency:>13} {report['total_ms']:>8}"
        )
    for (tour, kind), b in sorted(baselines.items()):
        print(f"tour {tour} plain copy ({kind}): {b['rows']} rows in {b['ms']} ms ({b['rows'] * 1000 // max(b['ms'], 1)} rows/s)")
    for r in lines:
        if r.get("check") == "rows":
            print(f"rows of the moved tenant (count, distinct): {r['found']}, expected {r['expected']}; other tenant {r['other_tenant']}")
    print("x plain: how many times the plain copy's rows/s the move's copy took; pause: the mover's write pause (ms);")
    print("seen: the writer's first to last refused write (ms); 503s: writes refused with Retry-After; other: any other failure;")
    print("p50 ms: the writer's median latency before / during the move")


if __name__ == "__main__":
    main()
