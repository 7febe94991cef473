#!/usr/bin/env bash
# Regenerates the bundled sample volumes with `ssbimage sample` (deterministic: fixed seeds).
set -euo pipefail
cd "$(dirname "$0")"
ssbimage=${SSBIMAGE:-../.venv/bin/ssbimage}
$ssbimage sample cathode        --out cathode        --size 128 --seed 1 --overwrite
$ssbimage sample anode          --out anode          --size 128 --seed 1 --overwrite
$ssbimage sample cathode-series --out cathode-series --size 96  --seed 1 --timepoints 4 --overwrite
$ssbimage sample sem-eds        --out sem-eds        --size 512 --seed 1 --overwrite
