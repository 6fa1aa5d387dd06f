#!/usr/bin/env bash
# The GPU check in one go, for a machine with an NVIDIA GPU: exports the two real-width layer stacks
# (tools/gpu_stack.py: the upsampler and the 5b top prior at full width and context, 3 layers, random weights)
# and runs bench/gpu-check.ts on each with the CUDA execution provider.
#
#   bench/gpu-check.sh                 # results in bench/results/gpu-check-{upsampler,top}.json
#   OUT=/some/dir bench/gpu-check.sh   # results elsewhere
#   GPU_STACK_DIR=/path bench/gpu-check.sh   # stacks exported beforehand (DIR/upsampler, DIR/top)
#   CONFIGS="upsampler" bench/gpu-check.sh   # one stack only
#   SMALL=1 bench/gpu-check.sh         # CPU-sized stacks (tools/gpu_stack.py --small): a quick dry run
#   COND_DEPTH=2 bench/gpu-check.sh    # a 2-block upsampler conditioner: most of the export time saved; the
#                                      # conditioner's time per window is then not the real one
#   PROVIDER=cpu SMALL=1 bench/gpu-check.sh  # the whole script on a machine without a GPU
#
# Prerequisites (each missing one stops the script with a message and a non-zero status):
#   - nvidia-smi and a visible GPU (not with PROVIDER=cpu);
#   - node >= 20 and node_modules (npm ci) with onnxruntime-node's CUDA execution provider. onnxruntime-node
#     1.30 ships the CPU build; on linux/x64 its postinstall script (node_modules/onnxruntime-node/script/install.js)
#     downloads libonnxruntime_providers_{cuda,shared,tensorrt}.so from the Microsoft.ML.OnnxRuntime.Gpu.Linux
#     1.30.0 NuGet package into node_modules/onnxruntime-node/bin/napi-v6/linux/x64/. This repository's .npmrc
#     sets onnxruntime-node-install=skip, so a GPU image must override it at build time (needs the network):
#         ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci
#     or, after an npm ci that skipped it:
#         (cd node_modules/onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=cuda12 node script/install.js)
#     (install.js reads ONNXRUNTIME_NODE_INSTALL, then npm_config_onnxruntime_node_install, then the flag
#     --onnxruntime-node-install=cuda12; the values are skip, cuda12, or true/1/ON to force). The provider
#     also needs the CUDA 12 and cuDNN 9 shared libraries on the loader path (LD_LIBRARY_PATH);
#   - to export the stacks: a python3 with torch and onnx (PYTHON or JUKEBOX_PYTHON, else the first of python3 and
#     /usr/bin/python3 that has them); otherwise GPU_STACK_DIR with both stacks. The export runs on all cores: about
#     400 CPU-seconds for the upsampler (its 1024-wide upper-token conditioner, traced at full context).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-bench/results}"
PROVIDER="${PROVIDER:-cuda}"
CONFIGS="${CONFIGS:-upsampler top}"
PYTHON="${PYTHON:-${JUKEBOX_PYTHON:-}}"
ORT_BIN="node_modules/onnxruntime-node/bin/napi-v6/linux/x64"

fail() {
  echo "gpu-check: $*" >&2
  exit 1
}

# 1. The GPU.
if [ "$PROVIDER" = cuda ]; then
  command -v nvidia-smi >/dev/null 2>&1 || fail "nvidia-smi not found: this needs a machine with an NVIDIA GPU and its driver (PROVIDER=cpu runs it on the CPU)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >&2 || fail "nvidia-smi sees no GPU"
elif [ "$PROVIDER" != cpu ]; then
  fail "PROVIDER must be cuda or cpu, got $PROVIDER"
fi

# 2. Node and onnxruntime-node.
command -v node >/dev/null 2>&1 || fail "node not found (node >= 20 is needed)"
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
[ "$NODE_MAJOR" -ge 20 ] || fail "node $(node --version) is too old: node >= 20 is needed"
[ -d node_modules/onnxruntime-node ] && [ -x node_modules/.bin/tsx ] ||
  fail "node_modules is missing or incomplete: run 'ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci' (with the network) first"
if [ "$PROVIDER" = cuda ]; then
  [ "$(uname -s)/$(uname -m)" = Linux/x86_64 ] || fail "onnxruntime-node's CUDA provider is published for linux/x64 only"
  [ -f "$ORT_BIN/libonnxruntime_providers_cuda.so" ] ||
    fail "$ORT_BIN/libonnxruntime_providers_cuda.so is missing: onnxruntime-node was installed without its CUDA execution provider (this repository's .npmrc skips it). Install it with: (cd node_modules/onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=cuda12 node script/install.js)"
  missing="$(LD_LIBRARY_PATH="$ORT_BIN:${LD_LIBRARY_PATH:-}" ldd "$ORT_BIN/libonnxruntime_providers_cuda.so" 2>/dev/null | awk '/not found/ {print $1}' | tr '\n' ' ')"
  [ -z "$missing" ] || fail "the CUDA provider cannot load, these libraries are not found: $missing(CUDA 12 and cuDNN 9 are needed; add their lib folders to LD_LIBRARY_PATH)"
fi

# 3. The stacks: exported here, or given.
SMALL_FLAG=()
[ "${SMALL:-0}" = 1 ] && SMALL_FLAG=(--small)
if [ -n "${GPU_STACK_DIR:-}" ]; then
  STACKS="$GPU_STACK_DIR"
  for c in $CONFIGS; do
    [ -f "$STACKS/$c/level.json" ] || fail "GPU_STACK_DIR=$STACKS has no $c/level.json (make it with: python3 tools/gpu_stack.py --config $c --out $STACKS)"
  done
else
  if [ -z "$PYTHON" ]; then # the first python3 on PATH, else Debian's, that imports torch and onnx
    for p in python3 /usr/bin/python3; do
      if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import torch, onnx' 2>/dev/null; then
        PYTHON="$p"
        break
      fi
    done
    [ -n "$PYTHON" ] || fail "no python3 with torch and onnx (tried python3 and /usr/bin/python3): set PYTHON to one, or GPU_STACK_DIR to stacks exported elsewhere (python3 tools/gpu_stack.py --config upsampler|top --out DIR)"
  fi
  "$PYTHON" -c 'import torch, onnx' 2>/dev/null ||
    fail "$PYTHON lacks torch or onnx: set PYTHON to one that has them, or GPU_STACK_DIR to stacks exported elsewhere (python3 tools/gpu_stack.py --config upsampler|top --out DIR)"
  STACKS="$(mktemp -d "${TMPDIR:-/tmp}/gpu-stack.XXXXXX")"
  trap 'rm -rf "$STACKS"' EXIT
  for c in $CONFIGS; do
    echo "== exporting the $c stack into $STACKS/$c" >&2
    extra=(${SMALL_FLAG[@]+"${SMALL_FLAG[@]}"})
    [ -n "${COND_DEPTH:-}" ] && [ "$c" = upsampler ] && extra+=(--cond-depth "$COND_DEPTH")
    "$PYTHON" tools/gpu_stack.py --config "$c" --out "$STACKS" --threads "$(nproc)" ${extra[@]+"${extra[@]}"} ||
      fail "tools/gpu_stack.py --config $c failed"
  done
fi

# 4. The check.
mkdir -p "$OUT"
status=0
for c in $CONFIGS; do
  echo "== gpu-check $c ($PROVIDER)" >&2
  set +e
  node_modules/.bin/tsx bench/gpu-check.ts "$STACKS/$c" --provider "$PROVIDER" --out "$OUT/gpu-check-$c.json"
  rc=$?
  set -e
  if [ "$rc" -eq 2 ]; then
    fail "onnxruntime-node could not open a CUDA session (see above)"
  elif [ "$rc" -ne 0 ]; then
    echo "gpu-check: bench/gpu-check.ts failed on the $c stack (status $rc)" >&2
    status=1
  fi
done
exit "$status"
