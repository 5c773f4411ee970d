#!/usr/bin/env bash
# Train a model on a GPU machine that receives files but installs and downloads nothing (the
# `device` machine some sessions are lent), in three steps:
#
#   bash scripts/gpu_train.sh prepare [CONFIG [PACK OPTIONS]]   # here: pack the train split's
#                                               # features and the init weights into runs/gpu/
#                                               # (PACK OPTIONS go to `v2a data pack-features`;
#                                               # what travels must stay within 64 MiB)
#   bash scripts/gpu_train.sh train [CONFIG]     # there, with $OUT set: train, then write the
#                                               # final and one middle checkpoint as float16
#                                               # pieces of at most 15 MB, the log and loss plot
#   bash scripts/gpu_train.sh unpack DIR NAME    # here: join DIR's pieces into runs/NAME*.safetensors
#                                               # (float32 again, metadata kept) and check they load
#
# Optional: GPU_RUN_DIR (where `train` trains; default a new temporary folder), RUNS (where
# `unpack` writes; default runs).
#
# CONFIG defaults to model/configs/v2a-large.json. Its `features` and `init_from` name the files
# `prepare` writes; the init file holds the shipped checkpoint's decoder (when the config's model
# has one of that shape), sync encoder and null embeddings (the flow transformer starts fresh).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    cat <<'TEXT'
usage: bash scripts/gpu_train.sh STEP ...
  prepare [CONFIG [PACK OPTIONS]]  here: pack the config's features and init weights (runs/gpu/)
  train [CONFIG [TRAIN OPTIONS]]   on the GPU machine, with $OUT set: train, write float16 pieces
  unpack DIR NAME                  here: join DIR's pieces into $RUNS/NAME-{final,middle}.safetensors
CONFIG defaults to model/configs/v2a-large.json; options follow it (the header of this script
tells more). Environment: PYTHON, GPU_PYTHON, GPU_RUN_DIR, OUT, RUNS (default runs).
TEXT
}

fail() {
    echo "gpu_train.sh: $*" >&2
    exit 2
}

case "${1:-}" in
-h | --help) usage; exit 0 ;;
"") usage >&2; exit 2 ;;
esac
step=$1
case "$step:${2:-}" in
*:-h | *:--help) usage; exit 0 ;;
# Options go after CONFIG: taken for it, "--mel-bits" would be read as a config file.
prepare:-* | train:-*) fail "$step: CONFIG comes before options (gpu_train.sh $step CONFIG ${*:2})" ;;
esac
config=${2:-model/configs/v2a-large.json}
python=${PYTHON:-.venv/bin/python}

case "$step" in
prepare)
    # The config names where the packed features and init weights go; without them, say so here.
    paths=$("$python" - "$config" <<'EOF'
import sys
from model.config import TrainConfig, load_json
try:
    cfg = load_json(TrainConfig, sys.argv[1])
except (OSError, ValueError) as error:
    sys.exit(f"gpu_train.sh prepare: {error}")
missing = [key for key in ("features", "init_from") if not getattr(cfg, key)]
if missing:
    sys.exit(f"gpu_train.sh prepare: {sys.argv[1]} sets no {' or '.join(missing)} (the files prepare writes)")
print(cfg.features, cfg.init_from)
EOF
    ) || exit 2
    read -r features init <<<"$paths"
    mkdir -p "$(dirname "$features")" "$(dirname "$init")"  # the config names where they go
    "$python" -m v2a.cli data pack-features --config "$config" --out "$features" "${@:3}"
    "$python" - "$init" "$config" <<'EOF'
import sys
from safetensors.torch import load_file, save_file
from model.config import TrainConfig, load_json
from model.v2a_model import V2AModel
weights = load_file("model/checkpoints/v2a-default.safetensors")
takes = V2AModel(load_json(TrainConfig, sys.argv[2]).model).state_dict()  # what this config's model can start from
keep = {k: v for k, v in weights.items()
        if k.startswith(("decoder.", "sync.", "net.null_")) and k in takes and takes[k].shape == v.shape}
save_file(keep, sys.argv[1])
print(f"{sys.argv[1]}: {len(keep)} tensors from model/checkpoints/v2a-default.safetensors")
EOF
    # The device takes the tracked files, untracked ones git does not ignore and the carried paths,
    # 64 MiB in all: the shipped checkpoint (about 50 MB) has to stay behind for the trip.
    "$python" - "$features" "$init" <<'EOF'
import os, subprocess, sys
tracked = subprocess.run(["git", "ls-files", "-z"], capture_output=True, text=True, check=True).stdout.split("\0")
tree = sum(os.path.getsize(p) for p in tracked if os.path.isfile(p) and not p.startswith("model/checkpoints/"))
total = tree + sum(os.path.getsize(p) for p in sys.argv[1:])
print(f"to carry: {total / 2**20:.1f} MiB of the device's 64 (the tracked files without model/checkpoints/, "
      f"{tree / 2**20:.1f} MiB, and the two files above); move model/checkpoints/*.safetensors out for the trip")
if total > 64 * 2**20:
    sys.exit("too much for the device's 64 MiB: pack with fewer --mel-bits")
EOF
    ;;
train)
    : "${OUT:?set OUT to the folder whose files come back}"
    python=${GPU_PYTHON:-python3}  # the machine's own Python with PyTorch; nothing of ours is installed there
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
    "$python" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
    run=${GPU_RUN_DIR:-$(mktemp -d)}
    started=$(date +%s)
    PYTHONUNBUFFERED=1 "$python" -m model.train --config "$config" --out "$run" "${@:3}" >"$OUT/train.log" 2>&1 \
        || { tail -c 3000 "$OUT/train.log"; exit 1; }
    echo "trained in $(( $(date +%s) - started )) s"
    grep -E "fit_steps_to_time|initialised from|stopping" "$OUT/train.log" | cut -c1-240 || true
    tail -c 600 "$OUT/train.log" | tr '\r' '\n' | tail -3
    "$python" - "$run" "$OUT" <<'EOF'
import json, pathlib, re, subprocess, sys
import torch
from safetensors import safe_open
from safetensors.torch import save_file
run, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
final = json.loads(safe_open(str(run / "model.safetensors"), "pt").metadata()["info"])["step"]
kept = sorted(run.glob("model-step*.safetensors"), key=lambda p: int(re.findall(r"\d+", p.stem)[0]))
middle = min(kept, key=lambda p: abs(int(re.findall(r"\d+", p.stem)[0]) - final / 2), default=None)
for name, path in [("final", run / "model.safetensors"), ("middle", middle)]:
    if path is None:
        continue
    with safe_open(str(path), "pt") as handle:
        meta = handle.metadata()
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    # float16 for the trip back (the mel normalisation stays float32); half the bytes
    small = {k: (v if k.startswith("mel_") else v.half()) for k, v in tensors.items()}
    piece = out / f"{name}.fp16.safetensors"
    save_file(small, str(piece), metadata=meta)
    subprocess.run(["split", "-b", "15M", str(piece), f"{piece}.part-"], check=True)
    piece.unlink()
    print(name, path.name, json.loads(meta["info"])["step"], "steps")
EOF
    cp "$run/loss.png" "$run/history.json" "$OUT/"
    ls -la "$OUT"
    ;;
unpack)
    from=${2:?usage: gpu_train.sh unpack DIR NAME}
    name=${3:?usage: gpu_train.sh unpack DIR NAME}
    runs=${RUNS:-runs}
    # A wrong DIR must not pass quietly: the next step would score an older checkpoint.
    [ -d "$from" ] || fail "unpack: no folder $from (the \$OUT that train filled)"
    compgen -G "$from/*.fp16.safetensors.part-aa" >/dev/null \
        || fail "unpack: $from has no final.fp16.safetensors.part-* or middle.fp16.safetensors.part-* (what train writes into \$OUT)"
    mkdir -p "$runs/gpu-out"
    for which in final middle; do
        [ -e "$from/$which.fp16.safetensors.part-aa" ] || continue
        cat "$from/$which.fp16.safetensors.part-"* >"$runs/gpu-out/$name-$which.fp16.safetensors"
        "$python" - "$runs/gpu-out/$name-$which.fp16.safetensors" "$runs/$name-$which.safetensors" <<'EOF'
import json, sys
from model.v2a_model import V2AModel, read_metadata
source, target = sys.argv[1], sys.argv[2]
meta = read_metadata(source)
model = V2AModel.load(source)  # loading casts into the model's float32 parameters
info = json.loads(meta["info"]) | {"transport": "float16 (scripts/gpu_train.sh)"}
model.save(target, info, frozen=json.loads(meta["frozen"]))
print(target, info["step"], "steps")
EOF
    done
    cp "$from/loss.png" "$runs/gpu-out/$name-loss.png" 2>/dev/null || true
    ;;
*)
    echo "gpu_train.sh: unknown step $step (prepare, train or unpack)" >&2
    exit 2
    ;;
esac
