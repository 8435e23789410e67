#!/usr/bin/env python3
"""What the sharded CI's test jobs would take, from one full nextest run.

usage: ci/shard-times.py JUNIT.xml [SHARDS [THREADS]]    (default 3 shards, 2 threads)

Reads the per-test times of a `cargo nextest run --workspace --profile ci` (its JUnit
file), assigns the tests to shards as `--partition slice:K/N` does (round-robin over
all tests, in nextest's order: binary id, then test name), and replays each shard on
THREADS test threads (nextest's default: one per core), starting each test as soon as
a thread is free, in that order. Prints each shard's test wall time and the longest;
the CI job adds its setup (checkout, packages, archive download) to that.
"""
import sys
import xml.etree.ElementTree as ET


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    shards = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    root = ET.parse(sys.argv[1]).getroot()
    tests = []
    for suite in root.iter("testsuite"):
        for tc in suite.iter("testcase"):
            tests.append((suite.get("name", ""), tc.get("name", ""), float(tc.get("time", "0") or 0)))
    tests.sort(key=lambda t: (t[0], t[1]))
    total = sum(t[2] for t in tests)
    print(f"{len(tests)} tests, {total:.1f} s of test time in all")
    print(f"| shard | tests | test time s | wall on {threads} threads s |")
    print("|---|--:|--:|--:|")
    walls = []
    for k in range(shards):
        mine = [t for i, t in enumerate(tests) if i % shards == k]
        free = [0.0] * threads
        for _, _, secs in mine:
            i = min(range(threads), key=lambda j: free[j])
            free[i] += secs
        wall = max(free) if mine else 0.0
        walls.append(wall)
        print(f"| {k + 1}/{shards} | {len(mine)} | {sum(t[2] for t in mine):.1f} | {wall:.1f} |")
    print(f"\nlongest shard: {max(walls):.1f} s ({max(walls) / 60:.1f} min) of tests")
    one = [0.0] * threads
    for _, _, secs in tests:
        i = min(range(threads), key=lambda j: one[j])
        one[i] += secs
    print(f"unsharded, same replay: {max(one):.1f} s ({max(one) / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
