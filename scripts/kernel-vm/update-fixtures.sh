#!/usr/bin/env bash
# Copies what the guests recorded in the last ci.sh run into test/kernel-vm/fixtures/ (the host suites
# hold the sim and the parsers to these real answers). Review the diff before committing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
OUTROOT="${KFD_SVM_VM_OUTDIR:-/tmp/kfd-svm-vm}"
DEST="$REPO_DIR/test/kernel-vm/fixtures"
mkdir -p "$DEST"
copy() { [ -f "$1" ] || die "missing $1 (run scripts/kernel-vm/ci.sh first)"; cp "$1" "$DEST/$2"; log "fixtures/$2 <- $1"; }
copy "$OUTROOT/svm-hmm/kfd-answers-svm.json" kfd-answers-svm.json
copy "$OUTROOT/svm-hmm/kfd-raw-svm.json" kfd-raw-svm.json
copy "$OUTROOT/svm-hmm/topology-svm.json" topology-svm.json
copy "$OUTROOT/svm-hmm/hmm-answers.json" hmm-answers.json
copy "$OUTROOT/svm-hmm/iomem-hmm.json" iomem-hmm.json
copy "$OUTROOT/svm-dax/iomem-dax.json" iomem-dax.json
copy "$OUTROOT/nosvm/kfd-answers-nosvm.json" kfd-answers-nosvm.json
copy "$OUTROOT/nosvm/kfd-raw-nosvm.json" kfd-raw-nosvm.json
