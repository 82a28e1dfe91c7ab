#!/bin/bash
# Runs a sharded Canopy run on Kubernetes: the Indexed Job of shards, then (once
# every index completed) the merge Job. Kubernetes has no job dependencies, so
# this script is the dependency: `kubectl wait` on the shards' Complete condition
# (it fails, and the merge is not started, when the Job fails).
#
#   deploy/k8s/run.sh [NAMESPACE]     (kubectl configured for the cluster)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ns=(--namespace "${1:-default}")
kubectl "${ns[@]}" delete job canopy-shards canopy-merge --ignore-not-found
kubectl "${ns[@]}" apply -f "$here/shards-job.yaml"
kubectl "${ns[@]}" wait --for=condition=complete --timeout=24h job/canopy-shards
kubectl "${ns[@]}" apply -f "$here/merge-job.yaml"
kubectl "${ns[@]}" wait --for=condition=complete --timeout=6h job/canopy-merge
kubectl "${ns[@]}" logs job/canopy-merge | tail -5
