"""Load a policy file: YAML -> `${ENV}` substitution -> validated `Policy`.

Every error names the file, the line, the key path, the bad value and what is allowed, so an
operator can fix a policy without reading Junction's source.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from router.errors import PolicyError
from router.policy.schema import Policy, PolicyReferenceError

# Keys renamed in a route, old path -> new name. The old names are accepted, and warned about
# by `junction policy check`, for one release. Applied in this order: keys inside a renamed
# block come before the block itself, so each note names the line the file has.
RENAMED_ROUTE_KEYS: dict[tuple[str, ...], str] = {
    ("explore",): "explore_share",
    ("constraints", "max_cost_per_request"): "max_cost_per_request_usd",
    ("spill", "max_queue"): "fail_closed_max_waiting",
    ("router", "router_strong"): "scorer_strong",
    ("router", "router_weak"): "scorer_weak",
    ("scorer", "router_strong"): "scorer_strong",
    ("scorer", "router_weak"): "scorer_weak",
    ("router",): "scorer",
}

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class PolicySource:
    """A policy file read once: its text (the seed of an empty database) and the validated
    policy it holds. Picklable, so a supervisor can hand it to its worker processes."""

    path: Path
    text: str
    policy: Policy


def read_policy(path: Path | str, environ: Mapping[str, str] | None = None) -> PolicySource:
    """Read one policy file once and validate it; raise `PolicyError` with a precise message."""
    path = Path(path)
    env = os.environ if environ is None else environ
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read policy file: {exc.strerror or exc}") from exc
    return PolicySource(path, text, parse_policy(text, source=str(path), environ=env))


def load_policy(path: Path | str, environ: Mapping[str, str] | None = None) -> Policy:
    """Read and validate one policy file; raise `PolicyError` with a precise message."""
    return read_policy(path, environ).policy


def parse_policy(text: str, *, source: str, environ: Mapping[str, str]) -> Policy:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise PolicyError(_yaml_error(exc, source)) from None
    if root is None:
        raise PolicyError(f"{source}: the file is empty; a policy needs 'models' and 'routes'")
    missing: list[str] = []
    data = _to_python(root, source, environ, (), missing)
    if missing:
        # Every unset variable at once: fixing them one run at a time is tedious.
        raise PolicyError("\n".join([
            f"{source}: {len(missing)} environment variable(s) not set; set them, or write "
            "${NAME:-default} in the policy", *missing]))
    if not isinstance(data, dict):
        raise PolicyError(f"{source}:{root.start_mark.line + 1}: the top level must be a mapping")
    deprecations = _rename_old_keys(data, root)
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(_describe(exc, root, source)) from None
    policy._deprecations = tuple(deprecations)
    return policy


def _rename_old_keys(data: dict[str, Any], root: yaml.Node) -> list[str]:
    """Rename old route keys in place; one note per rename, naming its line and the new key.

    A route that gives both names keeps the old one, so validation refuses it as unknown.
    """
    notes: list[str] = []
    routes = data.get("routes")
    for index, route in enumerate(routes if isinstance(routes, list) else []):
        for path, new in RENAMED_ROUTE_KEYS.items():
            *parents, old = path
            holder: Any = route
            for part in parents:
                holder = holder.get(part) if isinstance(holder, dict) else None
            if not isinstance(holder, dict) or old not in holder or new in holder:
                continue
            holder[new] = holder.pop(old)
            loc = ("routes", index, *path)
            node = _key_node(root, loc)
            line = f"line {node.start_mark.line + 1}: " if node is not None else ""
            notes.append(f"{line}{_dotted(loc)} is the old name of '{new}'; it still works in "
                         "this release but will not in the next: rename it")
    return notes


def _yaml_error(exc: yaml.YAMLError, source: str) -> str:
    """PyYAML's message with the file's name instead of "<unicode string>"."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    where = f"{source}:{mark.line + 1}" if mark is not None else source
    column = f" (column {mark.column + 1})" if mark is not None else ""
    detail = f"{context}, {problem}" if context else problem
    return f"{where}: not valid YAML: {detail}{column}"


def _to_python(
    node: yaml.Node,
    source: str,
    environ: Mapping[str, str],
    path: tuple[str | int, ...],
    missing: list[str],
) -> Any:
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if key in out:
                raise PolicyError(
                    f"{source}:{key_node.start_mark.line + 1}: key {_dotted((*path, key))} "
                    "appears twice"
                )
            out[key] = _to_python(value_node, source, environ, (*path, key), missing)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, source, environ, (*path, i), missing)
                for i, item in enumerate(node.value)]
    value = _scalar(node)
    if isinstance(value, str) and "${" in value:
        return _substitute(value, node, source, environ, path, missing)
    return value


def _scalar(node: yaml.Node) -> Any:
    # Resolve a scalar with YAML's own rules (ints, floats, booleans, null) without a full load.
    return yaml.SafeLoader("").construct_object(node)


def _substitute(
    value: str,
    node: yaml.Node,
    source: str,
    environ: Mapping[str, str],
    path: tuple[str | int, ...],
    missing: list[str],
) -> str:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        missing.append(
            f"  {source}:{node.start_mark.line + 1}: {_dotted(path)} refers to environment "
            f"variable {name}, which is not set; set it, or write ${{{name}:-default}}"
        )
        return ""

    return _ENV_REF.sub(replace, value)


def _describe(exc: ValidationError, root: yaml.Node, source: str) -> str:
    lines = [f"{source}: invalid policy ({exc.error_count()} error(s))"]
    for err in exc.errors():
        loc = tuple(part for part in err["loc"] if not _is_pydantic_tag(part))
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, PolicyReferenceError):
            # A cross-reference found by the whole-policy check: point at the line holding it.
            loc = cause.loc
        node = _find_node(root, loc)
        line = node.start_mark.line + 1 if node is not None else 1
        where = _dotted(loc) or "(top level)"
        quiet = err["type"] == "missing" or not loc or isinstance(cause, PolicyReferenceError)
        shown = "" if quiet else f" (got {err.get('input')!r:.80})"
        lines.append(f"  {source}:{line}: {where}: {_allowed(err)}{shown}")
    return "\n".join(lines)


def _allowed(err: Any) -> str:
    msg = str(err["msg"])
    if err["type"] == "extra_forbidden":
        return "unknown key; check the spelling against the documented policy schema"
    if err["type"] == "missing":
        return "required key is missing"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return msg


def _is_pydantic_tag(part: Any) -> bool:
    # Pydantic inserts tags such as 'function-after[...]' into locations of validated models.
    return isinstance(part, str) and "[" in part and part.endswith("]")


def _find_node(root: yaml.Node, loc: tuple[Any, ...]) -> yaml.Node | None:
    node: yaml.Node | None = root
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for key_node, value_node in node.value:
                if str(key_node.value) == str(part):
                    nxt = value_node
                    break
            if nxt is None:
                return node
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return node
            node = node.value[part]
        else:
            return node
    return node


def _key_node(root: yaml.Node, loc: tuple[Any, ...]) -> yaml.Node | None:
    """The key node at `loc` (a block's value starts on the line after its key)."""
    parent = _find_node(root, loc[:-1])
    if isinstance(parent, yaml.MappingNode):
        for key_node, _ in parent.value:
            if str(key_node.value) == str(loc[-1]):
                found: yaml.Node = key_node
                return found
    return None


def _dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
