"""The markdown table of a bench/compare.py run, from its results (also `compare.py --table JSON`).

A cell is a median (with its p99 for latencies) and what went wrong, if anything: lines lost,
a time budget reached, a server that died. Ratios are afb-spawn's against the C binding's and
against the launch floor; the CPU column says how busy the client was next to each server.
"""
from __future__ import annotations

import math
import re
from typing import Any

TELLING = re.compile(r"signal|abort|assert|corrupt|free\(\)|malloc|segfault", re.IGNORECASE)
OURS, C_NAME, LIBAFB_NAME = "afb-spawn", "C spawn-binding", "afb-spawn on libafb"


def table(result: dict[str, Any]) -> str:
    names = result["columns"]
    head = ["measure", *names, "floor", f"{OURS} / C", f"{OURS} / floor", "CPU: client · servers", "notes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in result["rows"]:
        cells = [row["measure"]]
        cells += [cell(row["values"].get(name), row["unit"]) if name in row["values"] else
                  "absent" if name not in result["servers"] and name != names[-1] else "" for name in names]
        floor = row.get("floor")
        cells.append(f"{cell(floor, row['unit'])} ({floor['name']})" if floor else "")
        cells += [ratio(row, row["values"].get(C_NAME)), ratio(row, floor), cpu(row, names), row.get("note", "")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join([header(result), "", *lines, *incidents(result), *[f"\n{note}" for note in result["notes"]]])


def header(result: dict[str, Any]) -> str:
    m = result["machine"]
    load = result.get("load", {})
    during = load.get("during", [])
    text = (f"{result['when']}: {m['system']}, kernel {m['kernel']}, {m['cpus']} × {m['cpu']}, "
            f"Python {m['python']}, servers as {result['user']}; load average (1 min) at start "
            f"{m['loadavg_at_start'][0]}")
    if during:
        text += f", during the rows {min(during):.2f}-{max(during):.2f}, at the end {load.get('end', [0])[0]:.2f}"
    if "seconds" in result:
        text += f"; the run took {result['seconds'] / 60:.1f} min"
    return text


def incidents(result: dict[str, Any]) -> list[str]:
    lines = []
    for incident in result.get("incidents", []):
        lines.append(f"\n**{incident['server']}** {incident['how']} during \"{incident['row']}\""
                     f"{'; restarted for the next rows' if incident.get('restarted') else ''}. Its last log lines:")
        logged = [line for line in incident.get("log_tail", "").splitlines() if line.strip()]
        telling = [line for line in logged[:-6] if TELLING.search(line)][-6:]  # why it ended, if it said
        tail = [*telling, *(["…"] if telling else []), *logged[-6:]]
        lines.append("\n```\n" + "\n".join(tail or ["(nothing)"]) + "\n```")
    return lines


def cell(value: dict[str, Any] | None, unit: str) -> str:
    if value is None:
        return "absent"
    if "failed" in value:
        return f"**{value['failed']}**"
    median = value["median"]
    if math.isnan(median):  # the server was gone
        text = "n/a"
    else:
        text = f"{median:,.0f} {unit}" if median >= 1000 else f"{median:.3g} {unit}"
    if unit == "ms" and "p99" in value:
        text += f" (p99 {value['p99']:.3g})"
    if "lines_per_s" in value:
        text += f" ({value['lines_per_s']:,.0f} lines/s)"
    if value.get("status"):
        text += f" — **{value['status']}**"
    return text


def ratio(row: dict[str, Any], other: dict[str, Any] | None) -> str:
    mine = row["values"].get(OURS)
    if not mine or not other or "median" not in mine or "median" not in other or not other["median"]:
        return ""
    value = mine["median"] / other["median"]
    if math.isnan(value):
        return ""
    if row["higher_is_better"]:
        return f"{value:.2f}× ({'faster' if value >= 1 else 'slower'})"
    return f"{value:.2f}×"


def cpu(row: dict[str, Any], names: list[str]) -> str:
    """Client CPU, then each server's, as shares of one core over the measure's wall time."""
    usage = row.get("usage")
    if not usage:
        return ""
    shares = [f"{usage['server'][name]:.0%}" if name in usage["server"] else "–" for name in names]
    return f"{usage['client']:.0%} · {' / '.join(shares)}"
