"""What the launcher knows about models and GPUs: the facts that profile validation checks against.

Figures for the Qwen3.5 family come from the model cards and the checkpoints' `config.json`
(hybrid layout: three Gated DeltaNet layers to one gated-attention layer, so only a quarter of
the layers keep a KV cache). Weight sizes are the checkpoint sizes in GB (10^9 bytes), vision
tower and MTP head included, rounded up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

# Checkpoint-name suffix -> weight dtype. Names without one are BF16 checkpoints.
DTYPE_SUFFIXES: Mapping[str, str] = MappingProxyType({"-FP8": "fp8", "-GPTQ-Int4": "int4"})

# Usable memory per GPU in GB, as sold (H100 SXM 80 GB, H200 141 GB, ...).
GPU_MEMORY_GB: Mapping[str, float] = MappingProxyType(
    {"H100": 80.0, "H200": 141.0, "A100-80GB": 80.0, "L40S": 48.0, "B200": 180.0}
)

# Activations, CUDA graphs, NCCL buffers and the sampler: what vLLM needs per GPU beyond the
# weights and the KV cache. A deliberately round figure; profiles near the limit should be measured.
RUNTIME_OVERHEAD_GB = 4.0
# The CPU build's process (Python, torch, the API server) without weights or KV cache.
CPU_RUNTIME_OVERHEAD_GB = 2.0
KV_CACHE_BYTES_PER_VALUE = 2  # vLLM keeps the KV cache in the model dtype (bf16) by default


@dataclass(frozen=True)
class KnownModel:
    """One checkpoint family: architecture facts and weight memory per dtype."""

    name: str
    total_params_b: float
    active_params_b: float
    num_layers: int
    num_attention_layers: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    context_length: int
    weight_gb: Mapping[str, float]

    def kv_cache_gb(self, tokens: int, tensor_parallel_size: int = 1) -> float:
        """KV cache for `tokens` tokens on one GPU; KV heads are replicated once tp > kv heads."""
        heads_per_gpu = max(1, self.num_kv_heads // tensor_parallel_size)
        per_token = 2 * heads_per_gpu * self.head_dim * self.num_attention_layers
        return per_token * KV_CACHE_BYTES_PER_VALUE * tokens / 1e9


def _model(
    name: str,
    params: tuple[float, float],
    layers: int,
    heads: tuple[int, int, int],
    context: int,
    weights: dict[str, float],
) -> KnownModel:
    total, active = params
    attention_heads, kv_heads, head_dim = heads
    return KnownModel(
        name=name,
        total_params_b=total,
        active_params_b=active,
        num_layers=layers,
        num_attention_layers=layers // 4,
        num_attention_heads=attention_heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        context_length=context,
        weight_gb=MappingProxyType(weights),
    )


KNOWN_MODELS: Mapping[str, KnownModel] = MappingProxyType(
    {
        m.name: m
        for m in (
            _model(
                "Qwen3.5-35B-A3B", (35, 3), 40, (16, 2, 256), 262_144,
                {"bf16": 84.0, "fp8": 42.0, "int4": 21.0},
            ),
            _model(
                "Qwen3.5-122B-A10B", (122, 10), 48, (32, 2, 256), 262_144,
                {"bf16": 250.0, "fp8": 128.0, "int4": 66.0},
            ),
            _model(
                "Qwen3.5-397B-A17B", (397, 17), 60, (32, 2, 256), 262_144,
                {"bf16": 807.0, "fp8": 410.0, "int4": 210.0},
            ),
            # The random-weight test model built by local_backend/tiny_model.py.
            _model(
                "tiny-qwen35", (0.0005, 0.0004), 4, (4, 2, 64), 4_096,
                {"bf16": 0.0011},
            ),
        )
    }
)


def split_checkpoint_name(model: str) -> tuple[str, str]:
    """`Qwen/Qwen3.5-35B-A3B-FP8` or `/models/tiny-qwen35` -> (family name, dtype)."""
    base = model.rstrip("/").rsplit("/", 1)[-1]
    for suffix, dtype in DTYPE_SUFFIXES.items():
        if base.endswith(suffix):
            return base[: -len(suffix)], dtype
    return base, "bf16"
