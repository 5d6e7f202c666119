"""Every route of the Chalice app has its own resource in the deployed REST API: Chalice finds the view by the
proxy event's resourcePath, so a route without one would answer 405 behind API Gateway."""

from __future__ import annotations

import re
from pathlib import Path

from mlops_local.deployer import load_template

REPO = Path(__file__).resolve().parents[2]


def test_each_chalice_route_is_a_resource_of_the_api() -> None:
    routes = set(re.findall(r'@app\.route\("([^"]+)"', (REPO / "app" / "app.py").read_text()))
    events = load_template(REPO / "template.yaml")["Resources"]["ApiFunction"]["Properties"]["Events"]
    paths = {event["Properties"]["Path"] for event in events.values() if event["Type"] == "Api"}
    assert routes and paths == routes
    assert all(event["Properties"]["Method"] == "ANY" for event in events.values())
