"""Scan every string of a request body that would leave Junction, and say where findings were.

The classifier and the egress guard both call `scan_body`, so they see the same things:

- every string and number at any depth, and every mapping key, except the top-level ``model``
  (replaced before sending) and the API's own words (``role``, ``user``, ``object``...);
  tool-call ``arguments`` are parsed as JSON when they are JSON;
- ``data:`` URLs are decoded: text is scanned, while image, audio and binary payloads cannot be
  scanned and are counted by kind in `BodyScan.unscannable` (``image``, ``audio``, ``file``); so
  are image URLs (the URL itself is scanned, query string included), ``input_audio`` parts and
  ``file`` parts that carry only a ``file_id`` or binary ``file_data``;
- a percent-encoded string is scanned decoded too, and a string with zero-width characters also
  without them, because careless copies from URLs and chat tools carry both.

Speed: a detector run costs about ten microseconds however short the text, so strings are
joined per field group (``tools[0].function.parameters``, ``messages[2].content``, ``user``...;
below a group's depth a container is serialised in one `json.dumps` call) and small groups are
scanned together in one batch. Only a batch that finds something is split (in halves,
recursively) to attribute the findings to groups. Paths name structure only: a mapping key
that does not look like a plain identifier is shown as ``*``, and when the paths themselves
hold a finding every key outside the API's words is, so a path never carries a value.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import urllib.parse
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from router.classify.sensitivity import ExtraDetector, level_of, scan_text
from router.classify.types import Sensitivity

# Groups at least this long are scanned on their own: the per-call cost is then negligible,
# and a finding in them needs no second scan to be attributed.
_ALONE_CHARS: Final = 4096
_IMAGE_PARTS: Final = frozenset({"image_url", "input_image", "image"})
_AUDIO_PARTS: Final = frozenset({"input_audio"})
_FILE_PARTS: Final = frozenset({"file", "input_file"})
# Anthropic's Messages blocks hold their payload in a `source` (passthrough bodies).
_SOURCE_PARTS: Final = frozenset({"image", "document"})
# A path keeps this many components, by top-level field: deep enough to name the part
# (``messages[1].content[2].file.file_data``), shallow enough to group schemas.
_DEPTH: Final = {"messages": 6, "tools": 4, "functions": 3}
_DEFAULT_DEPTH: Final = 3
# The API's own words (keys and enumerated values) hold nothing sensitive; leaving them out
# keeps small groups few and short, which keeps the scans few.
_VOCABULARY: Final = frozenset({
    *("messages", "role", "content", "name", "type", "text", "refusal", "audio", "id"),
    *("system", "developer", "user", "assistant", "tool", "function", "tools", "tool_calls"),
    *("tool_call_id", "function_call", "arguments", "description", "parameters", "strict"),
    *("properties", "required", "items", "enum", "object", "string", "integer", "number"),
    *("boolean", "array", "null", "additionalProperties", "image_url", "input_image", "url"),
    *("detail", "low", "high", "auto", "none", "file", "input_file", "file_data", "file_id"),
    *("filename", "input_audio", "data", "format", "wav", "mp3", "input_text", "output_text"),
    *("response_format", "json_schema", "json_object", "schema", "tool_choice", "stream"),
    *("stream_options", "include_usage", "temperature", "top_p", "max_tokens", "metadata"),
    *("max_completion_tokens", "stop", "prediction", "n", "seed", "logprobs", "top_logprobs"),
    *("presence_penalty", "frequency_penalty", "parallel_tool_calls", "store", "modalities"),
    *("reasoning_effort", "service_tier", "functions", "minimum", "maximum", "default"),
    *("transcript", "name", "documents", "title", "input", "instructions", "messages"),
})
_SAFE_KEY = re.compile(r"[A-Za-z][a-z]*(?:[_-]?[A-Za-z][a-z]*)*[0-9]{0,2}\Z")
_WORD = re.compile(r"[A-Za-z][\w-]*")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_ZERO_WIDTH = re.compile("[\u200b-\u200f\u2060-\u2064\ufeff\u00ad]")
# A base64 or base64url payload, with its padding; what follows it is not part of it.
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]*=*", re.ASCII)
_DATA_URL = re.compile(r"data:([\w.+-]+/[\w.+-]+)?((?:;[\w.+-]+=[^;,]*)*)(;base64)?,", re.ASCII)


@dataclass(frozen=True, slots=True)
class BodyScan:
    """What a body holds: findings by kind, where they were, and what could not be scanned."""

    level: Sensitivity = Sensitivity.NONE
    findings: Mapping[str, int] = field(default_factory=dict)
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    unscannable: Mapping[str, int] = field(default_factory=dict)


def scan_body(body: Mapping[str, Any], extra: Sequence[ExtraDetector] = ()) -> BodyScan:
    """Scans every forwarded string of a chat-completions body; see the module docstring."""
    walker = _Walker()
    walker.walk_top(body)
    groups = [(path, "\n".join(texts)) for path, texts in walker.groups.items()]
    findings: Counter[str] = Counter()
    fields: dict[str, set[str]] = {}
    small: list[tuple[str, str]] = []
    for path, text in groups:
        if len(text) >= _ALONE_CHARS:
            _attribute(_scan(text, extra), (path,), findings, fields)
        else:
            small.append((path, text))
    if small:
        _scan_batch(small, extra, findings, fields)
    levels = {d.kind: d.level for d in extra} if extra else None
    found = dict(findings)
    if fields:
        fields = _redacted(fields, extra)
    return BodyScan(
        level=level_of(found, levels),
        findings=found,
        fields={kind: tuple(sorted(paths)) for kind, paths in sorted(fields.items())},
        unscannable=dict(walker.unscannable),
    )


def _redacted(
    fields: dict[str, set[str]], extra: Sequence[ExtraDetector]
) -> dict[str, set[str]]:
    """The paths, with every key outside the API's vocabulary shown as ``*`` when the paths
    themselves hold something a detector finds (an organisation's code name as a key)."""
    if not scan_text("\n".join(p for paths in fields.values() for p in paths), extra).findings:
        return fields
    return {kind: {_WORD.sub(_vocabulary_or_star, p) for p in paths}
            for kind, paths in fields.items()}


def _vocabulary_or_star(match: re.Match[str]) -> str:
    return match.group() if match.group() in _VOCABULARY else "*"


def _scan_batch(
    batch: Sequence[tuple[str, str]],
    extra: Sequence[ExtraDetector],
    findings: Counter[str],
    fields: dict[str, set[str]],
    known: Mapping[str, int] | None = None,
) -> None:
    """Scans the groups together, then halves of them where something was found.

    Findings of joined texts add up (the texts are separate lines), so only the first half is
    scanned at each level and the second half's share is the rest: one scan per level. A
    match across two joined texts (very rare) stays counted and is named by a group near it.
    """
    found = known if known is not None else _scan(_join(batch), extra)
    if not any(found.values()):
        return
    if len(batch) == 1:
        _attribute(found, (batch[0][0],), findings, fields)
        return
    middle = _middle(batch)
    first = _scan(_join(batch[:middle]), extra)
    rest = {kind: max(n - first.get(kind, 0), 0) for kind, n in found.items()}
    _scan_batch(batch[:middle], extra, findings, fields, first)
    _scan_batch(batch[middle:], extra, findings, fields, rest)


def _middle(batch: Sequence[tuple[str, str]]) -> int:
    """Where to cut so that both halves hold about as much text, one item at least each side.

    The cut stays in the middle half of the items, so the depth stays logarithmic.
    """
    total = sum(len(text) for _, text in batch)
    low, high = max(1, len(batch) // 4), max(1, (3 * len(batch)) // 4)
    seen = 0
    for i, (_, text) in enumerate(batch):
        seen += len(text)
        if seen * 2 >= total:
            return min(max(i + 1, low), high)
    return high


def _join(batch: Sequence[tuple[str, str]]) -> str:
    return "\n".join(text for _, text in batch)


def _attribute(
    found: Mapping[str, int],
    paths: Sequence[str],
    findings: Counter[str],
    fields: dict[str, set[str]],
) -> None:
    for kind, count in found.items():
        if count > 0:
            findings[kind] += count
            fields.setdefault(kind, set()).update(paths)


def _scan(text: str, extra: Sequence[ExtraDetector]) -> dict[str, int]:
    """Findings by kind in the text and in its decoded variants (the most found of each kind)."""
    found = dict(scan_text(text, extra).findings)
    for variant in _variants(text):
        for kind, count in scan_text(variant, extra).findings.items():
            if count > found.get(kind, 0):
                found[kind] = count
    return found


def _variants(text: str) -> list[str]:
    variants: list[str] = []
    if "%" in text and _PERCENT.search(text):
        variants.append(urllib.parse.unquote(text))
    # Zero-width characters are not ASCII; most texts are, and `isascii` is nearly free.
    if not text.isascii() and _ZERO_WIDTH.search(text):
        variants += [_ZERO_WIDTH.sub("", v) for v in (text, *variants)]
    return variants


class _Walker:
    """Collects the forwarded strings of a body by field group, and counts unscannable parts.

    A group's path grows by one component per level (``.key`` or ``[i]``) while `left` allows;
    below that, everything joins the group of the level above.
    """

    def __init__(self) -> None:
        self.groups: dict[str, list[str]] = {}
        self.unscannable: Counter[str] = Counter()

    def walk_top(self, body: Mapping[str, Any]) -> None:
        for key, value in body.items():
            if key == "model" or not isinstance(key, str):
                continue  # the model is replaced before sending; JSON keys are strings
            name = _key(key)
            self.add(name, key)
            if key == "messages" and isinstance(value, list):
                for i, message in enumerate(value):
                    self.walk_message(f"messages[{i}]", message)
            else:
                self.walk(value, name, _DEPTH.get(key, _DEFAULT_DEPTH) - 1)

    def walk_message(self, prefix: str, message: Any) -> None:
        if not isinstance(message, Mapping):
            self.walk(message, prefix, 0)
            return
        for key, value in message.items():
            path = f"{prefix}.{_key(str(key))}"
            self.add(path, str(key))
            if key == "content" and isinstance(value, list):
                for j, part in enumerate(value):
                    self.walk_part(f"{path}[{j}]", part)
            elif key in ("tool_calls", "function_call"):
                self.walk_calls(value, path)
            else:
                self.walk(value, path, 3)

    def walk_part(self, path: str, part: Any) -> None:
        if not isinstance(part, Mapping):
            self.walk(part, path, 2)
            return
        kind = part.get("type")
        if kind in _FILE_PARTS and not isinstance(part.get(kind), Mapping):
            self.walk_file(part, path)  # the Responses API's flat input_file part
            return
        for key, value in part.items():
            sub = f"{path}.{_key(str(key))}"
            self.add(sub, str(key))
            if kind in _IMAGE_PARTS and key in _IMAGE_PARTS:
                self.walk_image(value, sub)
            elif kind in _SOURCE_PARTS and key == "source" and isinstance(value, Mapping):
                self.walk_source(value, sub, "image" if kind == "image" else "file")
            elif kind in _AUDIO_PARTS and key == kind:
                self.unscannable["audio"] += 1
                if isinstance(value, Mapping):  # the format is text; the data is sound
                    self.walk({k: v for k, v in value.items() if k != "data"}, sub, 1)
            elif kind in _FILE_PARTS and key == kind and isinstance(value, Mapping):
                self.walk_file(value, sub)
            else:
                self.walk(value, sub, 1)

    def walk_image(self, image: Any, path: str) -> None:
        url = image.get("url") if isinstance(image, Mapping) else image
        if isinstance(url, str) and not _DATA_URL.match(url):
            self.unscannable["image"] += 1  # the pixels; the URL is scanned below
        self.walk(image, path, 1)

    def walk_source(self, source: Mapping[str, Any], path: str, kind: str) -> None:
        """An Anthropic image or document `source`: base64 data is decoded like a data URL
        (text is scanned, anything else cannot be); a URL's target cannot be scanned."""
        data = source.get("data")
        if source.get("type") == "base64" and isinstance(data, str):
            media = source.get("media_type")
            text, rest = _decoded(f"data:{media if isinstance(media, str) else ''};base64,"
                                  + data)
            if rest:
                self.add(path, rest)
            if text is not None:
                self.add(path, text)
            else:
                self.unscannable[kind] += 1
            return
        if source.get("type") == "url":
            self.unscannable[kind] += 1
        self.walk({k: v for k, v in source.items() if k != "type"}, path, 1)

    def walk_file(self, file: Mapping[str, Any], path: str) -> None:
        data = file.get("file_data")
        if not isinstance(data, str) or not data:
            self.unscannable["file"] += 1  # a file_id: its content is upstream, unseen
        for key, value in file.items():
            sub = f"{path}.{_key(str(key))}"
            self.add(sub, str(key))
            if key == "file_data" and isinstance(value, str):
                text, rest = _decoded(
                    value if value.startswith("data:") else "data:;base64," + value)
                if rest:
                    self.add(sub, rest)
                if text is not None:
                    self.add(sub, text)
                    continue
                self.unscannable["file"] += 1
                if not value.startswith("data:"):
                    self.add(sub, value)  # perhaps plain text, not base64
            else:
                self.walk(value, sub, 0)

    def walk_calls(self, calls: Any, path: str) -> None:
        items = calls if isinstance(calls, list) else [calls]
        for i, call in enumerate(items):
            base = f"{path}[{i}]" if isinstance(calls, list) else path
            if not isinstance(call, Mapping):
                self.walk(call, base, 0)
                continue
            for key, value in call.items():
                sub = f"{base}.{_key(str(key))}"
                self.add(sub, str(key))
                if key == "arguments" and isinstance(value, str):
                    self.walk_arguments(sub, value)
                elif key == "function" and isinstance(value, Mapping):
                    self.walk_calls(value, sub)
                else:
                    self.walk(value, sub, 0)

    def walk_arguments(self, path: str, arguments: str) -> None:
        # Arguments are JSON text: "\u0040" would hide an "@" from a scan of the raw string.
        try:
            parsed = json.loads(arguments)
        except ValueError:
            self.add(path, arguments)
            return
        self.walk(parsed, path, 0)

    def walk(self, value: Any, path: str, left: int) -> None:
        """Every string, number and key under `value`; iterative, so no nesting is too deep."""
        if isinstance(value, str) and not value.startswith("data:"):
            self.add(path, value)  # most values: a role, an id, a message's text
            return
        stack: list[tuple[Any, str, int]] = [(value, path, left)]
        add = self.add
        while stack:
            item, where, more = stack.pop()
            if isinstance(item, str):
                if item.startswith("data:") and _DATA_URL.match(item):
                    self.add_data_url(where, item)
                else:
                    add(where, item)
                continue
            if more <= 0 and isinstance(item, dict | list) and item:
                # Below the group's depth, one C call gives every key and value as text;
                # data: URLs still need the walk, to decode them and count what they carry.
                text = _as_text(item)
                if text is not None:
                    add(where, text)
                    continue
            if isinstance(item, list | tuple):
                if more > 0:
                    stack.extend((sub, f"{where}[{i}]", more - 1) for i, sub in enumerate(item))
                else:
                    stack.extend((sub, where, 0) for sub in item)
            elif isinstance(item, int | float):
                if not isinstance(item, bool):
                    add(where, str(item))  # a card number sent as a number
            elif isinstance(item, Mapping):  # a dict, in a parsed JSON body
                for key, sub in item.items():
                    text = str(key)
                    child = f"{where}.{_key(text)}" if more > 0 else where
                    add(child, text)
                    stack.append((sub, child, more - 1))

    def add_data_url(self, where: str, url: str) -> None:
        text, rest = _decoded(url)
        if rest:
            self.add(where, rest)  # text after the payload is text like any other
        if text is not None:
            self.add(where, text)
            return
        match = _DATA_URL.match(url)
        mime = (match.group(1) or "") if match else ""
        self.unscannable["image" if mime.startswith("image/") else
                         "audio" if mime.startswith("audio/") else "file"] += 1

    def add(self, where: str, text: str) -> None:
        if text and text not in _VOCABULARY:
            group = self.groups.get(where)
            if group is None:
                self.groups[where] = [text]
            else:
                group.append(text)


def _as_text(value: dict[Any, Any] | list[Any]) -> str | None:
    """A container's keys and values as one text, or None when it holds a data: URL."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):  # not a JSON tree, or too deep: walk it
        return None
    if '"data:' in text:
        return None
    # Escaped line breaks would hide line starts (markings, PEM blocks) from the detectors.
    return text.replace("\\n", "\n").replace("\\t", "\t") if "\\" in text else text


@functools.lru_cache(maxsize=4096)
def _key(key: str) -> str:
    """A mapping key as a path component: itself when it is a plain identifier, else ``*``."""
    return key if len(key) <= 40 and _SAFE_KEY.match(key) else "*"


def _decoded(url: str) -> tuple[str | None, str]:
    """The text a ``data:`` URL carries (None when it carries anything else, or is bad), and
    whatever follows a base64 payload in the same string ("data:...;base64,Q09O...: memo")."""
    match = _DATA_URL.match(url)
    if match is None:
        return None, url
    mime, payload, rest = match.group(1) or "", url[match.end():], ""
    if match.group(3):
        run = _BASE64_RUN.match(payload)
        end = run.end() if run else 0
        payload, rest = payload[:end], payload[end:]
    if mime.startswith(("image/", "audio/", "video/")):
        return None, rest
    if match.group(3):
        try:
            raw = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=False)
        except (binascii.Error, ValueError):
            return None, rest
    else:
        raw = urllib.parse.unquote_to_bytes(payload)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, rest
    # Text, not a binary format that happens to be valid UTF-8.
    controls = sum(1 for c in text[:4096] if c < " " and c not in "\t\n\r\f")
    return (None if "\x00" in text or controls > len(text[:4096]) // 20 else text), rest
