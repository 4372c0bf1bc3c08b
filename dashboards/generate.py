#!/usr/bin/env python3
"""Writes the saved objects of logmeter's dashboard, dashboards/logmeter.ndjson: index patterns, aggregation-based
visualizations and the dashboard, in the legacy saved-object format that OpenSearch Dashboards and Kibana both
import (without a migration version, so each migrates them to its own on import).

Run from the repository root: python3 dashboards/generate.py. tests/it/template.rs checks that every field a
visualization uses is in the index templates with a type that fits its aggregation.
"""
import json

ROLLUPS = ("logmeter-rollups", "logmeter-rollups-*")
METRICS = ("logmeter-metrics", "logmeter-metrics-*")


def index_pattern(ident, title):
    return {"id": ident, "type": "index-pattern", "attributes": {"title": title, "timeFieldName": "@timestamp"},
            "references": []}


def vis(ident, title, kind, pattern, metrics, split=("faas.name", 10), by_time=True):
    aggs = []
    for i, (agg, field, extra) in enumerate(metrics, start=1):
        params = {"field": field}
        params.update(extra)
        aggs.append({"id": str(i), "enabled": True, "type": agg, "schema": "metric", "params": params})
    n = len(aggs)
    if by_time:
        aggs.append({"id": str(n + 1), "enabled": True, "type": "date_histogram", "schema": "segment",
                     "params": {"field": "@timestamp", "interval": "auto", "min_doc_count": 1}})
    if split:
        field, size = split
        aggs.append({"id": str(n + 2), "enabled": True, "type": "terms",
                     "schema": "group" if by_time else "bucket",
                     "params": {"field": field, "size": size, "order": "desc", "orderBy": "1"}})
    state = {"title": title, "type": kind, "aggs": aggs,
             "params": {"addLegend": True, "legendPosition": "right", "addTooltip": True}}
    search = {"indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index", "query": {"query": "", "language": "kuery"},
              "filter": []}
    return {"id": ident, "type": "visualization",
            "attributes": {"title": title, "visState": json.dumps(state), "uiStateJSON": "{}", "description": "",
                           "version": 1, "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(search)}},
            "references": [{"name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern",
                            "id": pattern[0]}]}


VISUALIZATIONS = [
    vis("logmeter-invocations", "Invocations by function", "line", ROLLUPS,
        [("sum", "aws.lambda.invocations", {})]),
    vis("logmeter-errors", "Errors and timeouts by function", "line", ROLLUPS,
        [("sum", "aws.lambda.invocations_by_status.error", {}),
         ("sum", "aws.lambda.invocations_by_status.timeout", {})]),
    vis("logmeter-cold-starts", "Cold starts by function", "line", ROLLUPS,
        [("sum", "aws.lambda.cold_starts", {})]),
    vis("logmeter-p99-duration", "p99 duration by function (invocation documents)", "line", METRICS,
        [("percentiles", "aws.lambda.duration_ms", {"percents": [99]})]),
    vis("logmeter-max-duration", "Max duration by function", "line", ROLLUPS,
        [("max", "aws.lambda.duration_ms.max", {})]),
    vis("logmeter-memory-utilization", "Peak memory utilization by function", "line", ROLLUPS,
        [("max", "aws.lambda.memory_utilization.max", {})]),
    vis("logmeter-gb-seconds", "GB-seconds by function", "area", ROLLUPS,
        [("sum", "aws.lambda.billed_gb_seconds", {})]),
    vis("logmeter-cost", "Estimated cost (USD) by function", "area", ROLLUPS,
        [("sum", "aws.lambda.estimated_cost_usd", {})]),
    vis("logmeter-cost-by-version", "Estimated cost (USD) by version", "table", ROLLUPS,
        [("sum", "aws.lambda.estimated_cost_usd", {}), ("sum", "aws.lambda.invocations", {})],
        split=("faas.version", 20), by_time=False),
]


def dashboard():
    panels, refs = [], []
    for i, v in enumerate(VISUALIZATIONS):
        name = f"panel_{i}"
        panels.append({"panelIndex": str(i + 1), "gridData": {"x": (i % 2) * 24, "y": (i // 2) * 15, "w": 24, "h": 15,
                                                              "i": str(i + 1)},
                       "embeddableConfig": {}, "version": "7.10.2", "panelRefName": name})
        refs.append({"name": name, "type": "visualization", "id": v["id"]})
    return {"id": "logmeter", "type": "dashboard",
            "attributes": {"title": "logmeter: Lambda functions", "panelsJSON": json.dumps(panels),
                           "optionsJSON": json.dumps({"hidePanelTitles": False, "useMargins": True}),
                           "timeRestore": False, "description": "Invocations, errors, cold starts, duration, memory, GB-seconds and cost, from logmeter's rollups",
                           "version": 1, "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps({"query": {"query": "", "language": "kuery"}, "filter": []})}},
            "references": refs}


def main():
    objects = [index_pattern(ROLLUPS[0], ROLLUPS[1]), index_pattern(METRICS[0], METRICS[1])] + VISUALIZATIONS + [dashboard()]
    with open("dashboards/logmeter.ndjson", "w") as f:
        for o in objects:
            f.write(json.dumps(o, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
