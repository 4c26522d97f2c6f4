"""Build a tiny random-weight Qwen3.5 MoE checkpoint offline, for serving with a real vLLM on CPU.

Run it inside the vLLM virtual environment (it needs torch, transformers >= 5.2 and tokenizers):

    .vllm-venv/bin/python local_backend/tiny_model.py --out .vllm-venv/tiny-qwen35

The result is a `Qwen3_5MoeForCausalLM` (Gated DeltaNet + gated attention + sparse MoE, the
production architecture at toy size) with a trained byte-level BPE tokenizer, ChatML special
tokens and a Qwen3-style chat template (thinking switch, tools). Seeded, so it is deterministic.
Sizes respect the CPU kernels' limits: attention head_dim and the DeltaNet head dims are 64.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
# Qwen keeps these as added tokens that are not "special", so they survive decoding and the
# reasoning and tool parsers can see them.
MARKUP_TOKENS = (
    "<think>",
    "</think>",
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
)
TOKENIZER_VOCAB = 1000
MODEL_VOCAB = 1024  # tokenizer size rounded up to a multiple of 64
CONTEXT_LENGTH = 4096

# A Qwen3-style ChatML template: tools in the system turn, qwen3_coder XML tool calls, tool
# results as user turns, and the `enable_thinking` switch on the generation prompt.
CHAT_TEMPLATE = r"""
{%- if tools %}
{{- '<|im_start|>system\n' }}
{%- if messages[0].role == 'system' %}{{- messages[0].content + '\n\n' }}{%- endif %}
{{- '# Tools\n\nYou have access to the following functions:\n\n<tools>' }}
{%- for tool in tools %}{{- '\n' }}{{- tool | tojson }}{%- endfor %}
{{- '\n</tools>\n\nTo call a function reply in this format:\n\n<tool_call>\n' }}
{{- '<function=NAME>\n<parameter=ARG>\nVALUE\n</parameter>\n</function>\n' }}
{{- '</tool_call><|im_end|>\n' }}
{%- elif messages[0].role == 'system' %}
{{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
{%- endif %}
{%- for message in messages %}
{%- if message.role == 'system' %}
{%- if not loop.first %}{{- '<|im_start|>system\n' + message.content + '<|im_end|>\n' }}{%- endif %}
{%- elif message.role == 'user' %}
{{- '<|im_start|>user\n' + message.content + '<|im_end|>\n' }}
{%- elif message.role == 'assistant' %}
{{- '<|im_start|>assistant\n' }}
{%- set reasoning = message.reasoning_content or message.reasoning %}
{%- if reasoning %}{{- '<think>\n' + reasoning + '\n</think>\n\n' }}{%- endif %}
{%- if message.content %}{{- message.content }}{%- endif %}
{%- if message.tool_calls %}
{%- for call in message.tool_calls %}
{%- set fn = call.function if call.function is defined else call %}
{{- '\n<tool_call>\n<function=' + fn.name + '>\n' }}
{%- if fn.arguments is mapping %}
{%- for key, value in fn.arguments.items() %}
{{- '<parameter=' + key + '>\n' }}{{- value if value is string else value | tojson }}
{{- '\n</parameter>\n' }}
{%- endfor %}
{%- else %}{{- fn.arguments }}{%- endif %}
{{- '</function>\n</tool_call>' }}
{%- endfor %}
{%- endif %}
{{- '<|im_end|>\n' }}
{%- elif message.role == 'tool' %}
{%- if loop.first or loop.previtem.role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}
{{- '\n<tool_response>\n' + message.content + '\n</tool_response>' }}
{%- if loop.last or loop.nextitem.role != 'tool' %}{{- '<|im_end|>\n' }}{%- endif %}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<|im_start|>assistant\n' }}
{%- if enable_thinking is defined and enable_thinking is false %}
{{- '<think>\n\n</think>\n\n' }}
{%- else %}
{{- '<think>\n' }}
{%- endif %}
{%- endif %}
""".strip()


def training_corpus() -> list[str]:
    """A small, fixed corpus: enough English, JSON and code for a ~1,000-token BPE."""
    sentences = [
        "The quick brown fox jumps over the lazy dog.",
        "What is the capital of France? The capital of France is Paris.",
        "Write a Python function that returns the sum of two numbers.",
        "def add(a: int, b: int) -> int:\n    return a + b",
        '{"name": "get_weather", "arguments": {"city": "Berlin", "unit": "celsius"}}',
        "You are a helpful assistant. Answer briefly and precisely.",
        "Summarise the following text in one sentence.",
        "Translate to German: good morning, how are you today?",
        "SELECT id, name FROM users WHERE created_at > '2024-01-01' ORDER BY id;",
        "The gateway routes each request to a local GPU or to a proprietary API.",
        "Let me think step by step about the problem before answering.",
        "1 2 3 4 5 6 7 8 9 10 100 1000 3.14 2.71 -1 +1 = * / % ( ) [ ] { } < > ,",
    ]
    return [f"{s} {s.lower()} {s.upper()}" for s in sentences] * 20


def build_tokenizer(out: Path) -> Any:
    """Train a byte-level BPE with ChatML tokens and save it with the chat template."""
    from tokenizers import (  # type: ignore[import-not-found, unused-ignore]
        AddedToken,
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast  # type: ignore[import-not-found, unused-ignore]

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TOKENIZER_VOCAB - len(SPECIAL_TOKENS) - len(MARKUP_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(training_corpus(), trainer=trainer)
    tokenizer.add_special_tokens([AddedToken(t, special=True) for t in SPECIAL_TOKENS])
    tokenizer.add_tokens([AddedToken(t, special=False) for t in MARKUP_TOKENS])

    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=CONTEXT_LENGTH,
    )
    wrapped.chat_template = CHAT_TEMPLATE
    wrapped.save_pretrained(str(out))
    return wrapped


def build_model(out: Path, tokenizer: Any, seed: int) -> int:
    """Create the seeded random model in bf16 and save it; returns its parameter count."""
    import torch  # type: ignore[import-not-found, unused-ignore]
    from transformers import (  # type: ignore[import-not-found, unused-ignore]
        GenerationConfig,
        Qwen3_5MoeForCausalLM,
        Qwen3_5MoeTextConfig,
    )

    if len(tokenizer) > MODEL_VOCAB:
        raise SystemExit(f"tokenizer has {len(tokenizer)} tokens, more than {MODEL_VOCAB}")
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    endoftext = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = Qwen3_5MoeTextConfig(
        vocab_size=MODEL_VOCAB,
        hidden_size=64,
        num_hidden_layers=4,
        layer_types=["linear_attention"] * 3 + ["full_attention"],
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=64,
        linear_num_key_heads=2,
        linear_num_value_heads=4,
        linear_key_head_dim=64,
        linear_value_head_dim=64,
        num_experts=4,
        num_experts_per_tok=2,
        moe_intermediate_size=32,
        shared_expert_intermediate_size=32,
        max_position_embeddings=CONTEXT_LENGTH,
        tie_word_embeddings=False,
        eos_token_id=im_end,
        pad_token_id=endoftext,
    )
    config.architectures = ["Qwen3_5MoeForCausalLM"]
    torch.manual_seed(seed)
    model = Qwen3_5MoeForCausalLM(config).to(torch.bfloat16)
    model.generation_config = GenerationConfig(
        eos_token_id=[im_end, endoftext], pad_token_id=endoftext
    )
    model.save_pretrained(str(out))
    return int(sum(p.numel() for p in model.parameters()))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: build the tokenizer and the model into --out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True, help="directory to write")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(out)
    params = build_model(out, tokenizer, args.seed)
    summary = {"out": str(out), "parameters": params, "tokens": len(tokenizer)}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
