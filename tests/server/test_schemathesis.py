"""schemathesis (PyPI) against /api: no 5xx, every status code, content type and
response body as the OpenAPI document declares. Bounded examples and a fixed seed
keep it to well under a minute."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import TOKEN


def test_api_conforms(server, tmp_path):
    exe = Path(sys.executable).with_name("schemathesis")
    r = subprocess.run(
        [
            str(exe), "run", f"{server.url}/api",
            "--max-examples", "25", "--seed", "7", "--mode", "all",
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--generation-database", "none",
            "-H", f"Authorization: Bearer {TOKEN}",
        ],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert "passed" in r.stdout
