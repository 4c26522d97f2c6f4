"""How long `RuleClassifier.classify()` takes on a ~2,000-token chat with tools, scanning the body.

    python bench/body_scan_bench.py [--runs 3000]

Times three bodies of the same shape (a system prompt, eight turns with a tool call and a tool
result, four tools with parameter schemas, ``response_format``, ``user`` and ``metadata``):
clean, with an e-mail in one tool's description (a small field, so the batch is split to find
it), and with a card number in the long user message. Prints p50 and p99 for each, in wall
time and in this process's CPU time (on a shared machine, wall time also counts the time spent
waiting for a core). Target: p50 <= 1 ms and p99 <= 3 ms.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from typing import Any

from router.classify import RuleClassifier

_PROSE = (
    "Our quarterly platform review covered twelve services across three regions. Latency "
    "improved after the cache rollout, although two teams reported regressions during the "
    "migration window, and the on-call rotation absorbed more pages than planned. "
)


def chat_with_tools() -> dict[str, Any]:
    """About 2,000 tokens of messages, tools and options, with nothing sensitive in it."""
    tools = [
        {
            "type": "function",
            "function": {
                "name": f"lookup_{name}",
                "description": f"Look up a {name} by its identifier and return its fields.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "description": f"The {name} identifier."},
                        "fields": {"type": "array", "items": {"type": "string"}},
                        "limit": {"type": "integer", "minimum": 1, "maximum": 100},
                    },
                    "required": ["id"],
                },
            },
        }
        for name in ("service", "incident", "deployment", "team")
    ]
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a careful staff engineer. Be concise."},
        {"role": "user", "content": _PROSE * 20 + "Which services regressed, and why?"},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "lookup_incident", "arguments": json.dumps({"id": "INC-42"})},
        }]},
        {"role": "tool", "tool_call_id": "call_1",
         "content": json.dumps({"id": "INC-42", "summary": _PROSE, "severity": 2})},
        {"role": "assistant", "content": _PROSE * 2},
        {"role": "user", "content": _PROSE * 6 + "Summarise it for leadership in five bullets."},
    ]
    return {
        "model": "auto",
        "messages": messages,
        "tools": tools,
        "tool_choice": "auto",
        "response_format": {"type": "json_schema", "json_schema": {"name": "summary", "schema": {
            "type": "object", "properties": {"bullets": {"type": "array"}}}}},
        "user": "team-platform",
        "metadata": {"purpose": "review", "ticket": "PLAT-1203"},
        "temperature": 0.2,
    }


def time_it(
    classifier: RuleClassifier, body: dict[str, Any], runs: int
) -> tuple[float, float, float, float]:
    """Wall p50, wall p99, CPU p50, CPU p99, in milliseconds."""
    for _ in range(200):  # warm caches and the allocator first
        classifier.classify(body)
    wall, cpu = [], []
    for _ in range(runs):
        started, used = time.perf_counter(), time.process_time()
        classifier.classify(body)
        cpu.append((time.process_time() - used) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
    w, c = statistics.quantiles(wall, n=100), statistics.quantiles(cpu, n=100)
    return w[49], w[98], c[49], c[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3000, help="timed classify() calls per body")
    args = parser.parse_args()
    classifier = RuleClassifier()
    clean = chat_with_tools()
    in_tool = copy.deepcopy(clean)
    in_tool["tools"][2]["function"]["description"] += " Escalate to jane.doe@example.com."
    in_message = copy.deepcopy(clean)
    in_message["messages"][1]["content"] += " Card on file: 4111 1111 1111 1111."
    result = classifier.classify(clean)
    print(f"~{result.prompt_tokens} estimated tokens, {len(json.dumps(clean))} bytes of JSON")
    for name, body in (("clean", clean), ("email in a tool", in_tool),
                       ("card in a message", in_message)):
        found = classifier.classify(body)
        p50, p99, cpu50, cpu99 = time_it(classifier, body, args.runs)
        print(f"{name:18} wall p50 {p50:.3f} ms  p99 {p99:.3f} ms   "
              f"cpu p50 {cpu50:.3f} ms  p99 {cpu99:.3f} ms   fields {dict(found.fields)}")


if __name__ == "__main__":
    main()
