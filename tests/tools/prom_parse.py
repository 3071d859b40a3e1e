#!/usr/bin/python3
"""Parses a Prometheus text exposition on stdin with the official client's
parser (prometheus_client.parser) and prints one sample a line:
name|label=value,label=value|value (labels sorted). Exit 1 if it does not
parse."""
import sys
from prometheus_client.parser import text_string_to_metric_families

text = sys.stdin.read()
try:
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            print(f"{s.name}|{labels}|{s.value:g}")
except Exception as e:  # noqa: BLE001 - any parse error fails the test
    print(f"prom_parse: {e}", file=sys.stderr)
    sys.exit(1)
