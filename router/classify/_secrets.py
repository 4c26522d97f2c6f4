"""Secret detectors: PEM private keys, JWTs, provider API keys, assigned tokens and passwords.

Each `find_*` yields ``(kind, start, end)`` hits over the original text; `lowered` is the same
text lower-cased with identical offsets (`shape` is for the PII detectors). Every pattern starts
with a literal, so the regex engine skips ahead as fast as a substring search would.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections import Counter
from collections.abc import Iterator
from typing import Final

Hit = tuple[str | None, int, int]

_PEM_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_PEM_BODY = re.compile(r"[A-Za-z0-9+/=]{20,}")


def find_private_keys(text: str, lowered: str, shape: bytes) -> Iterator[Hit]:
    """PEM private keys (RSA, EC, OpenSSH, PKCS#8, encrypted): a BEGIN line and a body."""
    for match in _PEM_BEGIN.finditer(text):
        # A header alone (or two header constants in code) is about the format; a body is a key.
        body = _PEM_BODY.search(text, match.end(), match.end() + 400)
        if body:
            yield "private_key", match.start(), body.end()


_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")


def find_jwts(text: str, lowered: str, shape: bytes) -> Iterator[Hit]:
    """Three base64url parts whose first decodes to a JSON object with ``alg``."""
    for match in _JWT.finditer(text):
        if not _starts_token(text, match.start()):
            continue
        header = match.group().split(".", 1)[0]
        try:
            decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
        except (binascii.Error, ValueError):
            continue
        if isinstance(decoded, dict) and "alg" in decoded:
            yield "jwt", match.start(), match.end()


_END = r"(?![A-Za-z0-9_-])"
# (pattern, whether the part after the first "-" must look random)
_PREFIXED_KEYS: Final[tuple[tuple[re.Pattern[str], bool], ...]] = (
    # OpenAI (sk-, sk-proj-, sk-svcacct-, sk-admin-) and Anthropic (sk-ant-).
    (re.compile(r"sk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}" + _END), True),
    (re.compile(r"A(?:KIA|SIA|BIA|CCA)[A-Z0-9]{16}" + _END), False),  # AWS access key ids
    (re.compile(r"gh[pousr]_[A-Za-z0-9]{36,255}" + _END), False),  # GitHub
    (re.compile(r"github_pat_[A-Za-z0-9_]{22,255}" + _END), False),
    (re.compile(r"AIza[0-9A-Za-z_-]{35}" + _END), False),  # Google
    (re.compile(r"xox[abposr]-[0-9A-Za-z-]{10,}" + _END), True),  # Slack
    (re.compile(r"sk_(?:live|test)_[0-9A-Za-z]{16,}" + _END), False),  # Stripe
    (re.compile(r"rk_(?:live|test)_[0-9A-Za-z]{16,}" + _END), False),
    (re.compile(r"glpat-[0-9A-Za-z_-]{20,}" + _END), False),  # GitLab
    (re.compile(r"hf_[A-Za-z0-9]{30,}" + _END), False),  # Hugging Face
)


def find_prefixed_keys(text: str, lowered: str, shape: bytes) -> Iterator[Hit]:
    """Keys whose provider prefix says what they are: ``sk-``, ``AKIA``, ``ghp_``, ``AIza``..."""
    for pattern, check_random in _PREFIXED_KEYS:
        for match in pattern.finditer(text):
            if not _starts_token(text, match.start()):
                continue
            # Real keys mix letters and digits; "sk-xxxxxxxx..." and "sk-your-key-here" do not.
            if check_random and not _looks_random(match.group().split("-", 1)[1], min_len=16):
                continue
            yield "api_key", match.start(), match.end()


_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")


def find_aws_secrets(text: str, lowered: str, shape: bytes) -> Iterator[Hit]:
    """AWS secret access keys: 40 base64 characters within 200 of the word "aws".

    Alone, such a string could be a hash or an id; the context makes it a secret.
    """
    for pos in _positions(lowered, "aws"):
        match = _AWS_SECRET.search(text, pos, pos + 200)
        if match:
            value = match.group()
            if not (_has_upper(value) and _has_lower(value) and _has_digit(value)):
                continue
            if any(part.isalpha() and part.islower() for part in value.split("/")):
                continue  # a URL path such as "com/AmazonS3/latest/dev/Uploading"
            yield "api_key", match.start(), match.end()


_ASSIGNED = re.compile(
    r"[A-Za-z0-9_-]*[\"']?[ \t]*(?::=|=>|[:=])[ \t]*[\"']?(?P<value>[^\s\"',;`]{8,})"
)
_BEARER = re.compile(r"[ \t]+(?P<value>[A-Za-z0-9._~+/-]{20,}=*)")
# Names whose assigned value is a secret; the value decides between a key and a password.
_SECRET_NAMES: Final = ("key", "secret", "token", "bearer", "passw", "passphrase", "pwd")
_PLACEHOLDERS: Final = (
    *("your", "xxxx", "****", "...", "<", "${", "{{", "environ", "getenv", "process.env"),
    *("placeholder", "changeme", "redacted", "dummy", "example", "here", "(", "[", "{", "://"),
)


def find_assigned_secrets(text: str, lowered: str, shape: bytes) -> Iterator[Hit]:
    """`api_key = "..."`, `password: ...`, `Authorization: Bearer ...` with a real-looking value."""
    for name in _SECRET_NAMES:
        is_password = name in ("passw", "passphrase", "pwd")
        for pos in _positions(lowered, name):
            end_of_name = pos + len(name)
            pattern = _BEARER if name == "bearer" else _ASSIGNED
            match = pattern.match(text, end_of_name)
            if not match:
                continue
            value = match.group("value")
            if value.startswith(("$", "/")) or any(p in value.lower() for p in _PLACEHOLDERS):
                continue
            value = value.rstrip(".)")
            if "public" in lowered[max(0, pos - 12) : pos]:
                continue  # publicKeyToken, public_key: not secrets
            start = match.start("value")
            if is_password:
                if _char_classes(value) >= 3 and not _looks_like_identifier(value, camel=False):
                    yield "password", start, start + len(value)
            elif _looks_random(value, min_len=16) and not _looks_like_identifier(value):
                yield "api_key", start, start + len(value)


def _positions(haystack: str, needle: str) -> Iterator[int]:
    pos = haystack.find(needle)
    while pos != -1:
        yield pos
        pos = haystack.find(needle, pos + 1)


def _starts_token(text: str, start: int) -> bool:
    return start == 0 or not (text[start - 1].isalnum() or text[start - 1] in "_-")


def _looks_random(value: str, *, min_len: int) -> bool:
    """A key-like value: long, mixes letters and digits, and is not one repeated pattern."""
    if len(value) < min_len or not _has_digit(value):
        return False
    if not (_has_upper(value) or _has_lower(value)):
        return False
    return _entropy(value) >= 3.0


_NAME_PARTS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_CAMEL_HUMP = re.compile(r"[a-z][A-Z]|\d[A-Z][a-z]")


def _looks_like_identifier(value: str, *, camel: bool = True) -> bool:
    """`config.pad_token_id`, `_MODEL_KEYS_V2`, `kInt8StaticChannelSym`: names, not keys.

    Random keys split into short fragments at case changes; names split into words. Passwords
    are often camel-cased words ("Wint3r!sComing"), so for them only dots and underscores count
    (`camel=False`).
    """
    if "." in value:
        return True
    if "_" not in value and not (camel and _CAMEL_HUMP.search(value)):
        return False
    words = sum(len(p) for p in _NAME_PARTS.findall(value) if len(p) >= 3 and p.isalpha())
    return words >= 0.6 * len(value)


def _entropy(value: str) -> float:
    total = len(value)
    return -sum((n / total) * math.log2(n / total) for n in Counter(value).values())


def _has_digit(value: str) -> bool:
    return any(ch.isdigit() for ch in value)


def _has_upper(value: str) -> bool:
    return any(ch.isupper() for ch in value)


def _has_lower(value: str) -> bool:
    return any(ch.islower() for ch in value)


def _char_classes(value: str) -> int:
    symbol = any(not ch.isalnum() for ch in value)
    return _has_digit(value) + _has_upper(value) + _has_lower(value) + symbol


# Incoming-webhook URLs carry their secret in the path: whoever has the URL can post.
_WEBHOOKS: Final[tuple[re.Pattern[str], ...]] = (
    re.compile(
        r"hooks\.slack\.com/(?:services|workflows|triggers)/"
        r"(?P<secret>T[A-Z0-9]{6,}/[A-Z0-9]{6,}/[A-Za-z0-9]{16,})"
    ),
    re.compile(
        r"(?:discord(?:app)?\.com|discord\.gg)/api/webhooks/(?P<secret>\d{15,21}/[A-Za-z0-9_-]{40,})"
    ),
    # Microsoft Teams / Office 365 connectors: .../webhookb2/<guid>@<guid>/IncomingWebhook/...
    re.compile(
        r"(?:webhook\.office\.com/webhookb2|outlook\.office(?:365)?\.com/webhook)/(?P<secret>"
        r"[0-9a-fA-F-]{36}@[0-9a-fA-F-]{36}/IncomingWebhook/[0-9a-fA-F]{32}/[0-9a-fA-F-]{36})"
    ),
    # Power Automate / Logic Apps triggers and Google Chat spaces sign the URL itself.
    re.compile(
        r"logic\.azure\.com(?::\d+)?/workflows/[0-9a-f]{32}/triggers/[^\s\"'<>]*?"
        r"[?&]sig=(?P<secret>[A-Za-z0-9_-]{20,})"
    ),
    re.compile(
        r"chat\.googleapis\.com/v1/spaces/[A-Za-z0-9_-]+/messages\?[^\s\"'<>]*?"
        r"token=(?P<secret>[A-Za-z0-9_%=-]{20,})"
    ),
    re.compile(r"hooks\.zapier\.com/hooks/catch/(?P<secret>\d{4,}/[a-z0-9]{5,})"),
    re.compile(r"maker\.ifttt\.com/trigger/[^/\s]+/(?:json/)?with/key/(?P<secret>[\w-]{16,})"),
    # Mattermost and Rocket.Chat style: a random id right after /hooks/.
    re.compile(r"/hooks/(?P<secret>(?=[a-z]*\d)(?=\d*[a-z])[a-z0-9]{24,32})(?![\w-])"),
)


_WEBHOOK_HINTS: Final = ("hook", "/workflows/", "googleapis", "ifttt")


def find_webhooks(text: str, lowered: str, shape: bytes) -> Iterator[Hit]:
    """Slack, Discord, Teams/Office 365, Power Automate and Google Chat incoming webhooks."""
    if not any(hint in lowered for hint in _WEBHOOK_HINTS):
        return
    for pattern in _WEBHOOKS:
        for match in pattern.finditer(text):
            secret = match.group("secret").lower()
            # Placeholders in documentation (runs of zeros or of the letter x) are not secrets.
            if "xxxx" in secret or "0000000" in secret or "your" in secret:
                continue
            start = lowered.rfind("http", max(0, match.start() - 24), match.start())
            yield "webhook", start if start != -1 else match.start(), match.end()


# URLs whose user part holds a password, for databases, caches and brokers. Found from "://",
# the scheme read backwards from it.
_URL_SCHEME_REVERSED = re.compile(r"[a-z0-9+]{2,24}")
_URL_SCHEMES: Final = frozenset(
    {
        "postgres", "postgresql", "mysql", "mariadb", "mongodb", "mongodb+srv", "redis",
        "rediss", "amqp", "amqps", "mssql", "sqlserver", "oracle", "cockroachdb", "clickhouse",
        "neo4j", "neo4j+s", "bolt", "couchdb", "cassandra", "memcached", "nats", "mqtt", "mqtts",
        "ldap", "ldaps", "ftp", "sftp", "smtp", "smtps", "snowflake", "db2", "kafka", "elastic",
    }
)  # fmt: skip
_URL_USERINFO = re.compile(r"(?P<user>[^\s:/@\"'<>]*):(?P<password>[^\s/@\"'<>]+)@[\w.\[\-]")
# Passwords that documentation and local defaults use; no secret behind them.
_DEFAULT_PASSWORDS: Final = frozenset(
    {
        "password", "pass", "passwd", "pwd", "secret", "postgres", "mysql", "root", "admin",
        "guest", "user", "test", "changeme", "example", "mypassword", "yourpassword", "redis",
    }
)  # fmt: skip
# JDBC and ADO.NET strings put the password in a key=value pair: after ";", "?" or "&" in
# JDBC, after ";" in ADO.NET ("host=..., password=..." is a function call).
_JDBC_PASSWORD = re.compile(
    r"[;?&:](?:password|pwd)\s*=\s*(?P<password>[^;&\s\"'<>]+)", re.IGNORECASE
)
_ADO_PASSWORD = re.compile(r";\s*(?:password|pwd)\s*=\s*(?P<password>[^;\s\"'<>]+)", re.IGNORECASE)
_ORACLE_THIN = re.compile(r"jdbc:oracle:thin:[^/\s@:]+/(?P<password>[^@\s]+)@", re.IGNORECASE)
_KEYED_SEEDS: Final = (
    ("jdbc:", _JDBC_PASSWORD),
    ("server=", _ADO_PASSWORD),
    ("data source=", _ADO_PASSWORD),
    ("host=", _ADO_PASSWORD),
)
# Azure storage and Service Bus / Event Hubs connection strings.
_AZURE_KEY = re.compile(
    r"(?:AccountKey|SharedAccessKey)\s*=\s*(?P<password>[A-Za-z0-9+/]{20,}={0,2})",
    re.IGNORECASE,
)


def find_connection_strings(text: str, lowered: str, shape: bytes) -> Iterator[Hit]:
    """Database and broker URLs with a password, JDBC/ADO.NET passwords, Azure account keys."""
    for pos in _positions(lowered, "://"):
        scheme = _URL_SCHEME_REVERSED.match(lowered[max(0, pos - 24) : pos][::-1])
        if not scheme:
            continue
        name = scheme.group()[::-1]
        if name.startswith("jdbc"):
            name = name[4:]
        if name not in _URL_SCHEMES and name.split("+", 1)[0] not in _URL_SCHEMES:
            continue
        userinfo = _URL_USERINFO.match(text, pos + 3)
        if userinfo and _real_password(userinfo.group("password"), userinfo.group("user")):
            yield "connection_string", pos - scheme.end(), userinfo.end("password")
    for seed in ("accountkey", "sharedaccesskey"):
        for pos in _positions(lowered, seed):
            match = _AZURE_KEY.match(text, pos)
            if match and _looks_random(match.group("password"), min_len=20):
                yield "connection_string", match.start(), match.end()
    if "password" not in lowered and "pwd" not in lowered and "jdbc:oracle" not in lowered:
        return
    for seed, keyed in _KEYED_SEEDS:
        for pos in _positions(lowered, seed):
            line_end = lowered.find("\n", pos)
            limit = min(pos + 400, len(text) if line_end == -1 else line_end)
            match = _ORACLE_THIN.match(text, pos) or keyed.search(text, pos, limit)
            if not match:
                continue
            password = match.group("password")
            if _real_password(password, "") and not _looks_like_identifier(password, camel=False):
                yield "connection_string", pos, match.end("password")


def _real_password(password: str, user: str) -> bool:
    lowered = password.lower()
    if lowered in _DEFAULT_PASSWORDS or lowered == user.lower() or password.startswith("$"):
        return False
    return not any(p in lowered for p in _PLACEHOLDERS if p != "://")


# JSON, or a Python dict's repr: either quote.
_SERVICE_ACCOUNT = re.compile(r"[\"']type[\"']\s*:\s*[\"']service_account[\"']")
_ACCOUNT_KEY = re.compile(
    r"[\"']private_key(?:_id)?[\"']\s*:\s*[\"'](?:-----BEGIN[^\"']{40,}|[0-9a-f]{40})[\"']"
)


def find_service_accounts(text: str, lowered: str, shape: bytes) -> Iterator[Hit]:
    """Google service-account key files: ``"type": "service_account"`` with its key.

    The PEM inside also counts as a private key; the file is one more finding, as it says
    which account the key opens.
    """
    if "service_account" not in text:
        return
    for match in _SERVICE_ACCOUNT.finditer(text):
        if _ACCOUNT_KEY.search(text, max(0, match.start() - 3000), match.end() + 3000):
            yield "service_account", match.start(), match.end()
