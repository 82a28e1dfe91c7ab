"""deploy/k8s: the manifests are valid Kubernetes objects (kubernetes-validate's
bundled, strict JSON Schemas of Kubernetes 1.37, offline) and wired as the
sharded run needs: an Indexed Job whose N (completions, parallelism) is the N of
`--shard auto/N`, a merge Job reading the same partials folder from the same
volume, and the Slurm scripts' shard/merge commands as the canopy CLI takes them."""
import pathlib
import re

import kubernetes_validate
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
VERSION = "1.37.0"


def load(name):
    docs = [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]
    assert len(docs) == 1, name
    return docs[0]


@pytest.mark.parametrize("name", ["shards-job.yaml", "merge-job.yaml"])
def test_manifest_is_valid_kubernetes(name):
    kubernetes_validate.validate(load(name), VERSION, strict=True)


def test_schema_check_catches_a_bad_manifest():
    job = load("shards-job.yaml")
    job["spec"]["completionMode"] = 8  # a number where the schema wants a string
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, VERSION, strict=True)
    job = load("merge-job.yaml")
    job["spec"]["template"]["spec"]["containers"][0]["argz"] = []  # unknown field (strict)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, VERSION, strict=True)


def args(job):
    (c,) = job["spec"]["template"]["spec"]["containers"]
    return c, c["args"]


def test_shards_and_merge_fit_together():
    shards, merge = load("shards-job.yaml"), load("merge-job.yaml")
    spec = shards["spec"]
    assert spec["completionMode"] == "Indexed"
    n = spec["completions"]
    assert spec["parallelism"] == n
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    c, a = args(shards)
    assert a[a.index("--shard") + 1] == f"auto/{n}"
    assert a[a.index("run") + 1] == "region/region.toml"
    mc, m = args(merge)
    assert m[m.index("merge") + 1] == "region/region.toml"
    assert m[m.index("--partials") + 1] == a[a.index("--partial") + 1]
    assert c["workingDir"] == mc["workingDir"] == "/data"
    assert c["image"] == mc["image"]
    vol = lambda j: j["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"]
    assert vol(shards) == vol(merge)
    assert merge["spec"]["completions"] == 1


def test_run_script_waits_for_the_shards_before_the_merge():
    s = (K8S / "run.sh").read_text()
    wait = s.index("wait --for=condition=complete --timeout=24h job/canopy-shards")
    assert s.index("apply -f \"$here/shards-job.yaml\"") < wait < s.index("apply -f \"$here/merge-job.yaml\"")
    assert "set -euo pipefail" in s


def test_slurm_scripts_use_the_array_index_and_afterok():
    shard = (ROOT / "deploy/slurm/canopy-shard.sbatch").read_text()
    assert re.search(r'--shard "auto/\$n"', shard)
    submit = (ROOT / "deploy/slurm/submit.sh").read_text()
    assert '--array="0-$((n - 1))"' in submit
    assert '--dependency="afterok:$shards"' in submit
