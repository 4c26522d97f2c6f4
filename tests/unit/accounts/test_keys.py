from __future__ import annotations

import pytest
from pydantic import SecretStr

from router.accounts.keys import (
    KeyHasher,
    looks_like_junction_key,
    new_key_id,
    new_secret,
    parse_key_id,
)


def test_a_new_secret_carries_its_key_id() -> None:
    key_id = new_key_id()
    secret = new_secret(key_id)
    assert secret.startswith(f"jk-{key_id}-")
    assert looks_like_junction_key(secret)
    assert parse_key_id(secret) == key_id


@pytest.mark.parametrize(
    "token",
    [
        "jk-",
        "jk-abcdefgh",
        "jk-abcdefgh-short",
        "jk-ABCDEFGH-" + "x" * 43,  # ids are lowercase base32
        "jk-abcdefg1-" + "x" * 43,  # 1 is not base32
        "jk-abcdefgh-" + "x" * 43 + "!",
    ],
)
def test_malformed_junction_keys_have_no_id(token: str) -> None:
    assert looks_like_junction_key(token)
    assert parse_key_id(token) is None


def test_other_bearer_tokens_are_not_junction_keys() -> None:
    assert not looks_like_junction_key("sk-proj-abc")
    assert not looks_like_junction_key("EMPTY")


def test_hashes_hide_the_secret_and_depend_on_the_pepper() -> None:
    secret = new_secret(new_key_id())
    plain, peppered = KeyHasher(None), KeyHasher(SecretStr("pepper"))
    assert plain.hash(secret).startswith("sha256:")
    assert peppered.hash(secret).startswith("hmac-sha256:")
    assert secret not in plain.hash(secret)
    assert plain.matches(secret, plain.hash(secret))
    assert peppered.matches(secret, peppered.hash(secret))
    assert not peppered.matches(secret, plain.hash(secret))
    assert not KeyHasher(SecretStr("other")).matches(secret, peppered.hash(secret))
    assert not plain.matches(secret + "x", plain.hash(secret))
