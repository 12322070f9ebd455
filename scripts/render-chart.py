#!/usr/bin/env python3
"""Renders charts/tgbind-controller offline (Helm v4 library) and prints the objects as a JSON list.
Usage: render-chart.py [VALUES_JSON] [NAMESPACE]"""
import json
import sys
from pathlib import Path

import helm_python as helm
import yaml

chart = Path(__file__).resolve().parent.parent / "charts" / "tgbind-controller"
values = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
namespace = sys.argv[2] if len(sys.argv) > 2 else "default"
rendered = helm.Chart.load(str(chart)).render(values, name="tgbind", namespace=namespace, is_install=True)
docs = [d for path, text in sorted(rendered.items()) if not path.endswith("NOTES.txt") for d in yaml.safe_load_all(text) if d]
print(json.dumps(docs))
