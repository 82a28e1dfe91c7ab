"""Every field of every /stats answer on the sample region (zones, targets, fire
danger: the fixture of tests/server_api.rs has none of them) is declared in /api.
The schemas of /api are derived from the Rust structs (utoipa), so a field added to a
response without its schema, or a hand-written schema, fails here."""

from __future__ import annotations

from urllib.parse import quote

import pytest


def resolve(doc: dict, schema: dict) -> dict:
    while isinstance(schema, dict) and "$ref" in schema:
        node = doc
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def undocumented(doc: dict, schema: dict, value, at: str = "") -> list[str]:
    """JSON paths of `value` that `schema` does not declare."""
    schema = resolve(doc, schema)
    if "allOf" in schema:
        parts = [resolve(doc, p) for p in schema["allOf"]]
        if len(parts) == 1:
            return undocumented(doc, parts[0], value, at)
        props = {}
        for p in parts:
            props.update(p.get("properties", {}))
        schema = {"type": "object", "properties": props}
    out = []
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            if k in props:
                out += undocumented(doc, props[k], v, f"{at}.{k}")
            elif isinstance(extra, dict):
                out += undocumented(doc, extra, v, f"{at}.{k}")
            else:
                out.append(f"{at}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += undocumented(doc, schema.get("items", {}), v, f"{at}[{i}]")
    return out


def test_the_check_sees_an_undocumented_field():
    doc = {"components": {"schemas": {"A": {"type": "object", "properties": {"x": {"type": "number"}}}}}}
    schema = {"type": "array", "items": {"$ref": "#/components/schemas/A"}}
    assert undocumented(doc, schema, [{"x": 1}, {"x": 2, "y": 3}]) == ["[1].y"]


@pytest.mark.parametrize("path", [
    "/stats/communes", "/stats/communes/{commune}", "/stats/change", "/stats/province",
    "/stats/species", "/stats/targets", "/stats/observations", "/stats/fire-danger", "/stats/report",
])
def test_every_stats_field_is_documented(server, path):
    doc = server.get("/api").json()
    uri = path
    if "{commune}" in path:
        code = server.get("/stats/communes").json()["communes"][0]["code"]
        uri = path.replace("{commune}", quote(code))
    r = server.get(uri, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    body = r.json()
    schema = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert undocumented(doc, schema, body) == []
    # the sample has what the fixture lacks: zones, targets, fire danger
    if path == "/stats/species":
        assert body["species"] and body["overlaps"] and body["zones"]
    if path == "/stats/targets":
        assert body["progress"]["cover"] and body["progress"]["zones"]
    if path == "/stats/fire-danger":
        assert body["communes"] and body["forest_ha_by_level"]
