"""`RuleClassifier`: the default `Classifier`, built from cheap rules; pure and fast.

It reads a raw chat-completions body, never trusting its shape (the API layer validates it):

- task and difficulty come from the last user message, with the system prompt and earlier
  user turns as lower-weight context (`task.py`, `difficulty.py`);
- sensitivity scans everything that would be forwarded to a model (`body.py`): every message
  field and content part, tool definitions and results, ``response_format``, ``user``,
  ``metadata``, ``stop``, ``prediction`` and unknown pass-through fields, at any depth, with the
  built-in detectors and the organisation's `extra_detectors`; `Classification.fields` names
  where each kind was found and `Classification.unscannable` counts images, audio and binary
  files; an ``x-junction-sensitivity`` header, passed as `min_sensitivity`, can raise the level
  but never lower it;
- capabilities: ``tools`` when ``tools`` or ``functions`` is non-empty and ``tool_choice`` is not
  ``"none"``; ``vision`` when any ``image_url``/``input_image`` part is present; ``json_schema``
  only for ``response_format.type == "json_schema"`` (``json_object`` is plain JSON mode, which
  nearly every model supports, so it needs no capability); ``long_context`` when the estimated
  prompt exceeds `long_context_tokens`;
- prompt tokens are estimated, not counted: characters / 4, plus 4 per message and 3 for the
  reply's priming, plus the tools' JSON / 4, plus a fixed amount per image (765, or 85 with
  ``detail: "low"``, OpenAI's figures for a 1024x1024 image).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from router.classify.body import scan_body
from router.classify.difficulty import estimate_difficulty
from router.classify.features import text_features
from router.classify.sensitivity import ExtraDetector
from router.classify.task import score_tasks
from router.classify.types import Capability, Classification, Classifier, Sensitivity

DEFAULT_LONG_CONTEXT_TOKENS: Final = 32_000
_IMAGE_TOKENS: Final = 765
_LOW_DETAIL_IMAGE_TOKENS: Final = 85
_TEXT_PARTS: Final = frozenset({"text", "input_text", "output_text", "refusal"})
_IMAGE_PARTS: Final = frozenset({"image_url", "input_image", "image"})
_MAX_SIGNALS: Final = 8


class RuleClassifier:
    """Classifies a chat-completions body with rules; see the module docstring."""

    def __init__(
        self,
        *,
        long_context_tokens: int = DEFAULT_LONG_CONTEXT_TOKENS,
        extra_detectors: Sequence[ExtraDetector] = (),
    ) -> None:
        if long_context_tokens < 1:
            raise ValueError(
                f"long_context_tokens must be at least 1 token, got {long_context_tokens}"
            )
        self.long_context_tokens = long_context_tokens
        self.extra_detectors = tuple(extra_detectors)

    def classify(
        self, body: Mapping[str, Any], *, min_sensitivity: Sensitivity = Sensitivity.NONE
    ) -> Classification:
        chat = _read_messages(body.get("messages"))
        prompt_tokens = _estimate_tokens(chat, body)
        request = text_features(chat.request)
        assessment = score_tasks(
            request,
            system=text_features(chat.system) if chat.system else None,
            history=text_features(chat.history) if chat.history else None,
            wants_json=_response_format_type(body) in ("json_object", "json_schema"),
        )
        difficulty = estimate_difficulty(request, assessment.task, prompt_tokens=prompt_tokens)
        scan = scan_body(body, self.extra_detectors)
        sensitivity = scan.level.at_least(min_sensitivity)
        signals = [*assessment.signals]
        signals += [f"{kind} x{count}" for kind, count in sorted(scan.findings.items())]
        if sensitivity is not scan.level:
            signals.append(f"header raised sensitivity to {sensitivity.value}")
        signals += difficulty.signals
        return Classification(
            task=assessment.task,
            difficulty=difficulty.score,
            sensitivity=sensitivity,
            findings=scan.findings,
            capabilities=self._capabilities(body, chat, prompt_tokens),
            prompt_tokens=prompt_tokens,
            task_scores=assessment.scores,
            signals=tuple(signals[:_MAX_SIGNALS]),
            fields=scan.fields,
            unscannable=scan.unscannable,
        )

    def _capabilities(
        self, body: Mapping[str, Any], chat: _Chat, prompt_tokens: int
    ) -> frozenset[Capability]:
        found: set[Capability] = set()
        if _declares_tools(body):
            found.add(Capability.TOOLS)
        if chat.image_tokens:
            found.add(Capability.VISION)
        if _response_format_type(body) == "json_schema":
            found.add(Capability.JSON_SCHEMA)
        if prompt_tokens > self.long_context_tokens:
            found.add(Capability.LONG_CONTEXT)
        return frozenset(found)


@dataclass(frozen=True, slots=True)
class _Chat:
    """The parts of the messages the classifier reads."""

    texts: tuple[str, ...] = ()  # every message's text, whatever its role, for the estimate
    request: str = ""  # the last user message
    system: str = ""  # system and developer messages
    history: str = ""  # the user messages just before the last one
    messages: int = 0
    image_tokens: tuple[int, ...] = ()  # one estimate per image


def _read_messages(messages: Any) -> _Chat:
    if not isinstance(messages, Sequence) or isinstance(messages, str):
        return _Chat()
    texts: list[str] = []
    images: list[int] = []
    user_turns: list[str] = []
    system_turns: list[str] = []
    count = 0
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        count += 1
        own = list(_message_texts(message, images))
        texts.extend(own)
        if message.get("role") == "user":
            user_turns.append("\n".join(own))
        elif message.get("role") in ("system", "developer"):
            system_turns.append("\n".join(own))
    return _Chat(
        texts=tuple(texts),
        request=user_turns[-1] if user_turns else "",
        system="\n".join(system_turns),
        history="\n".join(user_turns[-4:-1]),  # a few recent turns are context enough
        messages=count,
        image_tokens=tuple(images),
    )


def _message_texts(message: Mapping[str, Any], images: list[int]) -> Iterator[str]:
    """Yields the message's texts and appends a token estimate to `images` per image part."""
    content = message.get("content")
    if isinstance(content, str):
        yield content
    elif isinstance(content, Sequence):
        for part in content:
            if not isinstance(part, Mapping):
                continue
            kind = part.get("type")
            if kind in _TEXT_PARTS:
                text = part.get("refusal" if kind == "refusal" else "text")
                if isinstance(text, str):
                    yield text
            elif kind in _IMAGE_PARTS:
                images.append(_image_tokens(part))
    calls = message.get("tool_calls")
    if isinstance(calls, Sequence):
        for call in calls:
            if isinstance(call, Mapping) and isinstance(call.get("function"), Mapping):
                yield from _argument_strings(call["function"].get("arguments"))
    legacy = message.get("function_call")
    if isinstance(legacy, Mapping):
        yield from _argument_strings(legacy.get("arguments"))


def _argument_strings(arguments: Any) -> Iterator[str]:
    """The string values in a tool call's JSON arguments (the raw text when it is not JSON)."""
    if not isinstance(arguments, str) or not arguments:
        return
    try:
        parsed = json.loads(arguments)
    except ValueError:
        yield arguments
        return
    yield from _strings(parsed)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _image_tokens(part: Mapping[str, Any]) -> int:
    image = part.get(part.get("type", ""))
    detail = image.get("detail") if isinstance(image, Mapping) else part.get("detail")
    return _LOW_DETAIL_IMAGE_TOKENS if detail == "low" else _IMAGE_TOKENS


def _estimate_tokens(chat: _Chat, body: Mapping[str, Any]) -> int:
    chars = sum(len(text) for text in chat.texts)
    tokens = chars // 4 + 4 * chat.messages + 3 + sum(chat.image_tokens)
    for key in ("tools", "functions"):
        declared = body.get(key)
        if declared:
            tokens += len(json.dumps(declared, default=str)) // 4
    return tokens


def _declares_tools(body: Mapping[str, Any]) -> bool:
    if body.get("tools"):
        return body.get("tool_choice") != "none"
    if body.get("functions"):
        return body.get("function_call") != "none"
    return False


def _response_format_type(body: Mapping[str, Any]) -> str | None:
    response_format = body.get("response_format")
    if isinstance(response_format, Mapping):
        kind = response_format.get("type")
        return kind if isinstance(kind, str) else None
    return None


if TYPE_CHECKING:
    _conforms: Classifier = RuleClassifier()  # mypy proves it satisfies the protocol
