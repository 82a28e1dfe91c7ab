"""Small helpers shared by the benchmark tools (no third-party imports here)."""

import json
from pathlib import Path


def load_features(path: Path) -> list[dict]:
    """GeoJSON features of a FeatureCollection (geometry dicts, properties)."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)["features"]


def write_result(path: Path, tool: str, figures: dict[str, dict[str, float]]) -> None:
    """figures: {commune code: {epoch: forest ha}}."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(str(path) + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"tool": tool, "forest_ha": figures}, f)
    tmp.replace(path)


def parse_epoch_rasters(items: list[str]) -> list[tuple[str, str]]:
    """["2024=truth/forest_2024.tif", ...] -> [(epoch, path), ...]."""
    out = []
    for it in items:
        epoch, _, path = it.partition("=")
        if not path:
            raise SystemExit(f"expected EPOCH=PATH, got {it!r}")
        out.append((epoch, path))
    return out
