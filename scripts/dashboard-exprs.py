#!/usr/bin/env python3
"""Writes the PromQL of a Grafana dashboard as a Prometheus rule file, so that
`promtool check rules` parses every panel's expression.

Usage: dashboard-exprs.py DASHBOARD.json > exprs.rules.yml

Grafana's own variables ($__rate_interval, $__interval, $__range) become durations first.
Exits 1, naming the panel, when the dashboard is not what deploy/grafana promises: every
panel queries the `datasource` variable (so the dashboard works with any Prometheus) and has
at least one expression.
"""
import json
import sys

GRAFANA_DURATIONS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
DATASOURCE = "${datasource}"


def fail(message):
    print(f"{sys.argv[1]}: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    with open(sys.argv[1], encoding="utf-8") as f:
        dashboard = json.load(f)
    variables = dashboard.get("templating", {}).get("list", [])
    if not any(v.get("name") == "datasource" and v.get("type") == "datasource" for v in variables):
        fail("no `datasource` variable of type datasource")
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for panel in dashboard.get("panels", []):
        title = panel.get("title", f"panel {panel.get('id')}")
        if panel.get("datasource", {}).get("uid") != DATASOURCE:
            fail(f"panel '{title}' does not query {DATASOURCE}")
        targets = panel.get("targets", [])
        if not targets:
            fail(f"panel '{title}' has no query")
        for target in targets:
            if target.get("datasource", {}).get("uid") != DATASOURCE:
                fail(f"a query of panel '{title}' does not use {DATASOURCE}")
            expr = target.get("expr", "")
            if not expr.strip():
                fail(f"a query of panel '{title}' has no expression")
            for variable, duration in GRAFANA_DURATIONS.items():
                expr = expr.replace(variable, duration)
            lines.append(f"      - record: panel_{panel.get('id')}_{target.get('refId')}")
            lines.append(f"        expr: {json.dumps(expr)}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
