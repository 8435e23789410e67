#!/usr/bin/env python3
"""Markdown summary of a JUnit file for a job summary ($GITHUB_STEP_SUMMARY).

usage: junit-summary.py TITLE JUNIT.xml
Prints totals, every failed test with the first lines of its message, and the ten
slowest tests. A missing or unreadable file is said so, not skipped.
"""
import sys
import xml.etree.ElementTree as ET


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    title, path = sys.argv[1], sys.argv[2]
    print(f"### {title}\n")
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        print(f"No JUnit results: {e}\n")
        return 0
    cases = []
    for tc in root.iter("testcase"):
        failed = tc.find("failure") is not None or tc.find("error") is not None
        skipped = tc.find("skipped") is not None
        msg = ""
        for tag in ("failure", "error"):
            el = tc.find(tag)
            if el is not None:
                msg = (el.get("message") or el.text or "").strip()
        cases.append((tc.get("classname", ""), tc.get("name", ""),
                      float(tc.get("time", "0") or 0), failed, skipped, msg))
    n = len(cases)
    nf = sum(1 for c in cases if c[3])
    ns = sum(1 for c in cases if c[4])
    total = sum(c[2] for c in cases)
    status = "failed" if nf else "passed"
    print(f"{n} tests, {nf} failed, {ns} skipped, {total:.1f} s of test time: **{status}**\n")
    if nf:
        print("| failed test | message |\n|---|---|")
        for cls, name, _, failed, _, msg in cases:
            if failed:
                first = " ".join(msg.splitlines()[:3]).replace("|", "\\|")[:300]
                print(f"| `{cls}::{name}` | {first} |")
        print()
    print("| slowest | s |\n|---|--:|")
    for cls, name, t, *_ in sorted(cases, key=lambda c: -c[2])[:10]:
        print(f"| `{cls}::{name}` | {t:.1f} |")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
