# ruff: noqa: RUF001  (prose in other scripts, on purpose: it must stay clean when folded)
"""Writes `clean_corpus.jsonl`: texts with nothing sensitive in them, for the false-positive test.

    python tests/data/make_clean_corpus.py

Seeded, so the file is the same on every run. Each row is ``{"source": ..., "text": ...}``; the
sources are what a prompt carries every day and what a detector could mistake for a finding:
version numbers, hashes, ids, timestamps, arithmetic, encoded images, minified code, API
payloads, prose in several languages, URLs without credentials.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import struct
import uuid
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

OUT = Path(__file__).resolve().parent / "clean_corpus.jsonl"
rng = random.Random(20261130)

PACKAGES = [
    "numpy", "pandas", "requests", "fastapi", "pydantic", "torch", "transformers", "httpx",
    "uvicorn", "redis", "sqlalchemy", "pytest", "ruff", "mypy", "scipy", "matplotlib",
]  # fmt: skip

PROSE = {
    "en": [
        "The committee will meet again next week to review the draft budget.",
        "Please summarise the attached article in three bullet points.",
        "Our hiking trip starts at the trailhead near the old mill.",
        "Can you explain how photosynthesis converts light into chemical energy?",
        "The library closes early on public holidays, so plan accordingly.",
    ],
    "fr": [
        "Le comité se réunira la semaine prochaine pour examiner le budget.",
        "Pouvez-vous traduire ce paragraphe en anglais, s'il vous plaît ?",
        "Nous avons visité le musée d'Orsay pendant les vacances d'été.",
    ],
    "de": [
        "Die Straßenbahn fährt alle zehn Minuten vom Hauptbahnhof ab.",
        "Können Sie mir bitte erklären, wie diese Funktion funktioniert?",
        "Übermorgen beginnt das Frühlingsfest in der Altstadt.",
    ],
    "es": [
        "La reunión se aplazó hasta el próximo jueves por la tarde.",
        "¿Cuál es la diferencia entre una lista y una tupla en Python?",
        "El niño comió una manzana mientras leía su cuento favorito.",
    ],
    "ru": [
        "Сегодня хорошая погода, и мы пошли гулять в парк.",
        "Объясните, пожалуйста, как работает эта функция сортировки.",
        "Встреча перенесена на следующую неделю из-за праздников.",
        "Сообщение о конференции опубликовано на сайте университета.",
    ],
    "el": [
        "Η συνάντηση θα γίνει την επόμενη εβδομάδα στο γραφείο.",
        "Μπορείτε να μου εξηγήσετε πώς λειτουργεί αυτός ο αλγόριθμος;",
    ],
    "uk": ["Ми поїдемо до Києва наступного тижня поїздом."],
    "zh": [
        "今天天气很好，我们去公园散步吧。",
        "请用三句话总结这篇文章的主要观点。",
        "这个函数的时间复杂度是多少？",
    ],
    "ja": [
        "明日の会議は午後三時から始まります。",
        "この関数の使い方を教えてください。\u3000よろしくお願いします。",
    ],
    "ko": ["내일 회의는 오후 세 시에 시작합니다."],
    "ar": ["سيعقد الاجتماع في الأسبوع المقبل في المكتب الرئيسي."],
    "hi": ["कल की बैठक दोपहर तीन बजे शुरू होगी।"],
    "he": ["הפגישה תתקיים בשבוע הבא במשרד."],
    "tr": ["Toplantı gelecek hafta İstanbul'daki ofiste yapılacak."],
    "pl": ["Spotkanie odbędzie się w przyszłym tygodniu w Łodzi."],
}

LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud "
    "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat."
)


def version() -> str:
    return f"{rng.randint(0, 12)}.{rng.randint(0, 40)}.{rng.randint(0, 30)}"


def requirements() -> str:
    lines = [f"{p}=={version()}" for p in rng.sample(PACKAGES, 6)]
    return "\n".join(lines)


def pyproject() -> str:
    deps = ",\n".join(
        f'    "{p}>={version()},<{rng.randint(1, 9)}"' for p in rng.sample(PACKAGES, 4)
    )
    return f'[project]\nname = "demo"\nversion = "{version()}"\ndependencies = [\n{deps}\n]'


def git_log() -> str:
    lines = []
    for _ in range(rng.randint(3, 8)):
        sha = hashlib.sha1(rng.randbytes(16)).hexdigest()
        lines.append(
            f"commit {sha}\nDate:   Mon Nov {rng.randint(1, 30)} 10:{rng.randint(10, 59)}"
            f":00 2026 +0100\n\n    Fix off-by-one in pager (#{rng.randint(100, 9999)})"
        )
    return "\n".join(lines)


def short_shas() -> str:
    return "Reverts " + ", ".join(hashlib.sha1(rng.randbytes(8)).hexdigest()[:7] for _ in range(5))


def checksums() -> str:
    lines = [
        f"{hashlib.sha256(rng.randbytes(32)).hexdigest()}  {p}-{version()}.tar.gz"
        for p in rng.sample(PACKAGES, 4)
    ]
    return "\n".join(lines)


def docker_digest() -> str:
    digest = hashlib.sha256(rng.randbytes(8)).hexdigest()
    return f"FROM python:3.11-slim@sha256:{digest}\nRUN pip install --no-cache-dir {PACKAGES[0]}"


def uuids() -> str:
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(4)]
    return "request ids: " + " ".join(ids) + f"\ntrace_id={uuid.UUID(int=rng.getrandbits(128)).hex}"


def arithmetic() -> str:
    a, b = rng.randint(10**3, 10**9), rng.randint(10**2, 10**7)
    return f"{a} * {b} = {a * b}, and {a} + {b} = {a + b}; {a} / {b} ≈ {a / b:.6f}"


def big_numbers() -> str:
    n = rng.randint(15, 25)
    fact = 1
    for i in range(2, n + 1):
        fact *= i
    return f"{n}! = {fact}, 2**{n + 40} = {2 ** (n + 40)}, fib(80) = 23416728348467685"


def timestamps() -> str:
    secs = rng.randint(1_600_000_000, 1_800_000_000)
    return (
        f"created={secs} created_ms={secs * 1000} at 2026-{rng.randint(1, 12):02d}-"
        f"{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:05.123Z"
    )


def log_lines() -> str:
    lines = []
    for _ in range(5):
        lines.append(
            f"2026-11-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:"
            f"{rng.randint(0, 59):02d},{rng.randint(100, 999)} INFO worker-{rng.randint(1, 9)} "
            f"processed batch {rng.randint(1000, 99999)} in {rng.random() * 900:.1f} ms "
            f"(queue={rng.randint(0, 500)})"
        )
    return "\n".join(lines)


def png_bytes() -> bytes:
    width, height = rng.randint(4, 24), rng.randint(4, 24)
    raw = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))


def jpeg_bytes() -> bytes:
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return (
        b"\xff\xd8"
        + app0
        + b"\xff\xdb\x00\x43\x00"
        + rng.randbytes(rng.randint(200, 900))
        + b"\xff\xd9"
    )


def image_data_url() -> str:
    if rng.random() < 0.5:
        return "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    return "data:image/jpeg;base64," + base64.b64encode(jpeg_bytes()).decode()


def image_message() -> str:
    payload = {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": image_data_url()}},
        ],
    }
    return json.dumps(payload)


def wrapped_base64_image() -> str:
    return "attachment (base64):\n" + base64.encodebytes(png_bytes()).decode()


def minified_js() -> str:
    names = ["a", "b", "c", "e", "t", "n", "r", "o", "i", "s"]
    parts = []
    for _ in range(rng.randint(6, 14)):
        x, y = rng.sample(names, 2)
        parts.append(
            rng.choice(
                [
                    f"function {x}({y}){{return {y}&&{y}.__esModule?{y}:{{default:{y}}}}}",
                    f"var {x}={y}.length>>>0,{y}=new Array({x});",
                    f"{x}.prototype.{y}=function(){{return this._v{rng.randint(0, 99)}}};",
                    f"if({x}<{rng.randint(0, 4096)}){{{y}+={x}*{rng.randint(2, 64)}|0}}",
                    f'{x}["default"]=Object.freeze({{v:"{version()}",h:0x{rng.getrandbits(32):08x}}});',
                    f"for(var {x}=0;{x}<{y}.length;{x}++){y}[{x}]^=0x{rng.getrandbits(8):02x};",
                ]
            )
        )
    return "!function(){" + "".join(parts) + "}();"


def api_payload() -> str:
    payload = {
        "id": f"chatcmpl-{base64.b32encode(rng.randbytes(15)).decode().lower()}",
        "object": "chat.completion",
        "created": rng.randint(1_700_000_000, 1_800_000_000),
        "model": f"gpt-4o-{rng.randint(2024, 2026)}-0{rng.randint(1, 9)}-{rng.randint(10, 28)}",
        "system_fingerprint": f"fp_{rng.getrandbits(40):010x}",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": rng.choice(PROSE["en"])},
             "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": rng.randint(10, 4000), "completion_tokens": rng.randint(1, 900)},
    }  # fmt: skip
    return json.dumps(payload)


def github_payload() -> str:
    user_id = rng.randint(1, 99_999_999)
    node = base64.b64encode(f"04:User{user_id}".encode()).decode()
    return json.dumps(
        {
            "login": f"octo{rng.randint(1, 999)}",
            "id": user_id,
            "node_id": node,
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
            "html_url": f"https://github.com/octo{rng.randint(1, 999)}",
            "created_at": "2011-01-25T18:44:36Z",
        }
    )


def stripe_like_payload() -> str:
    return json.dumps(
        {
            "object": "list",
            "data": [{"amount": rng.randint(100, 99999), "currency": "eur",
                      "created": rng.randint(1_600_000_000, 1_800_000_000), "livemode": False}],
            "has_more": False,
            "url": "/v1/charges",
        }
    )  # fmt: skip


def urls() -> str:
    return " ".join(
        rng.sample(
            [
                "https://example.com/docs/getting-started?lang=en&page=2",
                "https://en.wikipedia.org/wiki/Unicode_equivalence",
                "postgresql://localhost/app_dev",
                "postgres://db.internal:5432/reports",
                "redis://localhost:6379/0",
                "mongodb://localhost:27017",
                "amqp://rabbitmq:5672/",
                "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
                "https://pypi.org/project/httpx/0.27.2/",
                "https://www.google.com/search?q=python+base64+decode&hl=en",
                "https://cdn.example.net/assets/app.3f9a1c2b.min.js",
                "https://discord.com/developers/docs/resources/webhook",
                "https://api.example.com/v2/items/42?fields=name%2Cprice&sort=-created",
            ],
            4,
        )
    )


def code_snippet() -> str:
    name = rng.choice(["parse_header", "loadConfig", "compute_checksum", "RetryPolicy"])
    return (
        f"def {name}(data: bytes, *, limit: int = {rng.randint(16, 4096)}) -> int:\n"
        f'    """Returns the offset of the first frame; see RFC {rng.randint(1000, 9999)}."""\n'
        f"    crc = zlib.crc32(data[:limit]) & 0xFFFFFFFF\n"
        f"    assert crc != 0x{rng.getrandbits(32):08X}, 'bad frame'\n"
        f"    return struct.unpack('>HHI', data[:8])[0] + {rng.randint(0, 999)}\n"
    )


def base64_config() -> str:
    # base64 of ordinary text: decoded and scanned, and still clean.
    text = rng.choice(PROSE["en"]) + " " + requirements()
    return f"config_b64: {base64.b64encode(text.encode()).decode()}"


def hex_dump() -> str:
    data = rng.randbytes(48)
    return "\n".join(
        f"{i:08x}  " + " ".join(f"{b:02x}" for b in data[i : i + 16]) for i in range(0, 48, 16)
    )


def prose(lang: str) -> Callable[[], str]:
    return lambda: " ".join(rng.sample(PROSE[lang], min(2, len(PROSE[lang]))))


def mixed_prose() -> str:
    langs = rng.sample(sorted(PROSE), 4)
    return "\n".join(rng.choice(PROSE[lang]) for lang in langs)


SOURCES: dict[str, Callable[[], str]] = {
    "requirements": requirements,
    "pyproject": pyproject,
    "git_log": git_log,
    "short_shas": short_shas,
    "checksums": checksums,
    "docker_digest": docker_digest,
    "uuids": uuids,
    "arithmetic": arithmetic,
    "big_numbers": big_numbers,
    "timestamps": timestamps,
    "log_lines": log_lines,
    "image_message": image_message,
    "image_data_url": image_data_url,
    "wrapped_base64_image": wrapped_base64_image,
    "minified_js": minified_js,
    "api_payload": api_payload,
    "github_payload": github_payload,
    "stripe_like_payload": stripe_like_payload,
    "urls": urls,
    "code_snippet": code_snippet,
    "base64_config": base64_config,
    "hex_dump": hex_dump,
    "lorem": lambda: LOREM,
    "mixed_prose": mixed_prose,
    **{f"prose_{lang}": prose(lang) for lang in PROSE},
}


def rows() -> Iterator[dict[str, str]]:
    for source, make in SOURCES.items():
        repeats = 3 if source.startswith("prose_") or source == "lorem" else 12
        for _ in range(repeats):
            yield {"source": source, "text": make()}


def main() -> None:
    lines = [json.dumps(row, ensure_ascii=False) for row in rows()]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} rows -> {OUT}")


if __name__ == "__main__":
    main()
