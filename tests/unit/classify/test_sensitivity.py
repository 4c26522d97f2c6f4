"""Sensitivity detectors: a table of positives and of near-misses per kind, levels and counts.

Fake credentials are assembled from parts so that no secret scanner mistakes this file for a leak.
"""

from __future__ import annotations

import base64
import json

import pytest

from router.classify.sensitivity import KIND_LEVELS, level_of, scan_text
from router.classify.types import Sensitivity

RANDOM_40 = "Zk3pQ8vX1tY7wK3pJ9bH4mN6rS2uV5xA8cE0gI3l"


def fake(prefix: str, body: str = RANDOM_40) -> str:
    return prefix + body


def jwt(header: dict[str, object], payload: dict[str, object]) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part(header)}.{part(payload)}.c2lnbmF0dXJlLW5vdC1yZWFsLTEyMzQ1Njc4OQ"


def pem(kind: str) -> str:
    body = "MIIEowIBAAKCAQEAx7dPq3k9Zr2LmN5vX1tY7wK3pJ9bH4mN6rS2uV5xA8cE0gI"
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"


POSITIVES = [
    # e-mail
    ("write to jane.doe@example.com today", "email"),
    ("cc: bo+billing@mail.example.co.uk", "email"),
    ("<a.khan@example.org>", "email"),
    # phone: international, US and national formats, and a phone word before a bare number
    ("call +1 415 555 0132", "phone"),
    ("office (415) 555-0198", "phone"),
    ("dial 1-800-555-0199 now", "phone"),
    ("fax 212.555.0143", "phone"),
    ("London +44 20 7946 0958", "phone"),
    ("ring 020 7946 0018 after six", "phone"),
    ("mobile 07700 900123", "phone"),
    ("Paris 01 42 68 53 00", "phone"),
    ("Berlin +49 30 12345678", "phone"),
    ("Tokyo +81 3-1234-5678", "phone"),
    ("my phone is 4155550132", "phone"),
    ("tel:+14155550123", "phone"),
    # payment cards (Luhn-valid test numbers)
    ("Visa 4111 1111 1111 1111", "payment_card"),
    ("card 4111-1111-1111-1111 exp 12/27", "payment_card"),
    ("mc 5555 5555 5555 4444", "payment_card"),
    ("amex 3782 822463 10005", "payment_card"),
    ("card number 4012888888881881", "payment_card"),
    ("discover 6011 1111 1111 1117", "payment_card"),
    ("jcb 3530 1113 3330 0000", "payment_card"),
    ("card 4111 1111 1111 1111 123", "payment_card"),  # followed by its CVV
    # IBANs (mod-97 valid), with and without spaces
    ("IBAN DE89 3704 0044 0532 0130 00", "iban"),
    ("GB29NWBK60161331926819", "iban"),
    ("pay FR14 2004 1010 0505 0001 3M02 606 please", "iban"),
    ("NL91 ABNA 0417 1643 00", "iban"),
    ("BE68 5390 0754 7034 THEN", "iban"),
    # US SSNs
    ("SSN 536-22-1987", "us_ssn"),
    ("ssn: 234 56 7890", "us_ssn"),
    ("social security number 536221987", "us_ssn"),
    # IP addresses, loopback and private included
    ("server 192.168.1.10 is down", "ip_address"),
    ("ping 8.8.8.8.", "ip_address"),
    ("bind 127.0.0.1:8080", "ip_address"),
    ("from 10.0.0.5, then", "ip_address"),
    ("v6 2001:db8::1", "ip_address"),
    ("peer fe80::1ff:fe23:4567:890a", "ip_address"),
    ("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:443", "ip_address"),
    # API keys and tokens
    (fake("sk-proj-FAKE"), "api_key"),
    (fake("sk-"), "api_key"),
    (fake("sk-ant-api03-FAKE") + RANDOM_40, "api_key"),
    ("AKIA" + "IOSFODNN7EXAMPLE", "api_key"),
    ("ASIA" + "Q4Z7X2M9K1P3L8N6", "api_key"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY", "api_key"),
    (fake("ghp_", RANDOM_40[:36]), "api_key"),
    (fake("AIza", RANDOM_40[:35]), "api_key"),
    (fake("xoxb-", "123456789012-1234567890123-") + RANDOM_40[:24], "api_key"),
    (fake("sk_test_", RANDOM_40[:24]), "api_key"),
    ("API_KEY=" + "9f8e7d6c5b4a39281706f5e4d3c2b1a0", "api_key"),
    ('"x-api-key": "' + "3b1f0c9e2d8a47e6b5c4d3e2f1a0b9c8" + '"', "api_key"),
    ("Authorization: Bearer " + "4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a", "api_key"),
    # JWTs: three base64url parts whose header is JSON with "alg"
    (jwt({"alg": "HS256", "typ": "JWT"}, {"sub": "fake-user"}), "jwt"),
    ("Bearer " + jwt({"alg": "RS256"}, {"role": "admin"}), "jwt"),
    # PEM private keys
    (pem("RSA "), "private_key"),
    (pem(""), "private_key"),
    (pem("OPENSSH "), "private_key"),
    (pem("EC "), "private_key"),
    # passwords: a "password" assignment mixing three character classes
    ("password = Tr0ub4dor&3xyz", "password"),
    ("DB_PASSWORD=Hx7!kq29LmZp", "password"),
    ("POSTGRES_PASSWORD: Wint3r!sComing9", "password"),
    # confidentiality markings
    ("CONFIDENTIAL: Q3 numbers", "confidential_marker"),
    ("Internal use only.", "confidential_marker"),
    ("Please do not distribute.", "confidential_marker"),
    ("Attorney-client privileged communication", "confidential_marker"),
    ("This recipe is our trade secret.", "confidential_marker"),
    ("This is covered by our NDA.", "confidential_marker"),
    ("Proprietary and confidential", "confidential_marker"),
    ("strictly confidential draft", "confidential_marker"),
    ("Not for public release", "confidential_marker"),
    ("It contains material non-public information", "confidential_marker"),
    ("TOP SECRET", "confidential_marker"),
]


@pytest.mark.parametrize(("text", "kind"), POSITIVES)
def test_detector_finds(text: str, kind: str) -> None:
    scan = scan_text(text)
    assert scan.findings.get(kind, 0) >= 1, scan.findings
    assert scan.level is KIND_LEVELS[kind]


NEAR_MISSES = [
    # numbers that are not phones, cards or SSNs
    "released on 2024-03-15 and 15.03.2024",
    "Python 3.11.7 and v2.10.4",
    "order ORD-2024-88812 shipped",
    "timestamp 1700000000 and build 20240315",
    "ISBN 978-0-306-40615-7",
    "revenue 1,234,567 in 2023 2024 2025",
    "pi is 3.14159265358979",
    "1 + 53.5981500331442 * x",
    "Boston, MA 02110-1301 USA",
    "bytes 01-23-45-67-89-ab-cd-ef",
    "np.array(['+1980-02-29 01:02:03'])",
    "values 0.0000 0.0000, -0.7584",
    "The meeting on 01.02.2024 12 people",
    "order #123-456-7890",
    "array([3.4536, 2390.5436, 324525.4535])",
    "the number e = 2.718281828",
    # invalid cards and bare digit runs that only look like cards
    "card 4111 1111 1111 1112",
    "mpf((1, 6458161865649291, -53, 53))",
    "h = 269116466014453760 * x",
    # invalid IBANs and SSNs
    "IBAN DE89 3704 0044 0532 0130 01",
    "UPS 1Z999AA10123456784",
    "SSNs 000-12-3456, 666-45-1234, 912-34-5678, 123-00-4567, 123-45-0000",
    # not IP addresses
    "version 1.2.3.4",
    "bump from version 1.2.3.4 to 1.2.4.0",
    "999.10.10.10",
    "12:30:45 and a[1::2] and ::1",
    "MAC 00:1A:2B:3C:4D:5E",
    "OID 1.3.6.1.4.1.343",
    # not e-mail addresses
    "icon@2x.png",
    "git@github.com:acme/site.git",
    "@decorator and user@localhost",
    # not secrets
    "sk-xxxxxxxxxxxxxxxxxxxxxxxx",
    "API_KEY=your-api-key-here",
    "api_key = os.environ['OPENAI_API_KEY']",
    "password: <your password>",
    "password = os.environ['DB_PASSWORD']",
    "max_tokens=1024",
    "self.pad_token_id = config.t2u_pad_token_id",
    "_keys_to_ignore = _COSMOS3_EDGE_DROPPED_GENERATOR_KEYS",
    '"MBart50Tokenizer": MBart50Converter,',
    'publicKeyToken="1fc8b3b9a1e18e3b"',
    '"token_endpoint": "http://localhost:9090/token"',
    "see docs.aws.amazon.com/AmazonS3/latest/dev/UploadingObjects.html",
    "what does -----BEGIN RSA PRIVATE KEY----- mean?",
    '_SK_START = b"-----BEGIN OPENSSH PRIVATE KEY-----"\n'
    '_SK_END = b"-----END OPENSSH PRIVATE KEY-----"',
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n"
    "-----END PUBLIC KEY-----",
    jwt({"typ": "JWT", "kid": "k1"}, {"x": 1}),
    "archive.tar.gz and file.name.txt",
    # topics, not markings
    "Draft a mutual NDA for a freelance designer.",
    "What's an NDA and when do I need one?",
    "What is a trade secret, and how does it differ from a patent?",
    "How do therapists keep client information confidential?",
    "What is confidentiality in the CIA triad?",
    "Do not hesitate to ask. Do not share your password with anyone.",
    "Intermediaries do not forward WINDOW_UPDATE frames.",
    "    This parameter is meant for internal use only.",
    "# For internal use only. Backward compatibility.",
    "uses confidential-client auth",
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_miss_finds_nothing(text: str) -> None:
    scan = scan_text(text)
    assert scan.findings == {}, scan.findings
    assert scan.level is Sensitivity.NONE


def test_counts_each_finding_and_takes_the_highest_level() -> None:
    text = "mail a@example.com and b@example.com, call +1 415 555 0132. CONFIDENTIAL."
    scan = scan_text(text)
    assert scan.findings == {"email": 2, "phone": 1, "confidential_marker": 1}
    assert scan.level is Sensitivity.CONFIDENTIAL


def test_a_value_caught_by_two_detectors_counts_once() -> None:
    scan = scan_text('OPENAI_API_KEY="' + fake("sk-proj-FAKE") + '"')
    assert scan.findings == {"api_key": 1}


def test_findings_hold_counts_by_kind_never_values() -> None:
    secret = fake("sk-proj-FAKE")
    scan = scan_text(f"key {secret} mail jane.doe@example.com card 4111 1111 1111 1111")
    assert set(scan.findings) <= set(KIND_LEVELS)
    assert all(isinstance(count, int) for count in scan.findings.values())
    assert secret not in repr(scan) and "jane.doe" not in repr(scan)


def test_offsets_survive_characters_that_grow_when_lower_cased() -> None:
    # "İ".lower() is two characters; the scan must still line its hits up with the text.
    scan = scan_text("İİİİ contact ana@example.com or +44 20 7946 0958")
    assert scan.findings == {"email": 1, "phone": 1}


def test_empty_text() -> None:
    assert scan_text("").findings == {}
    assert scan_text("").level is Sensitivity.NONE


@pytest.mark.parametrize(
    ("findings", "level"),
    [
        ({}, Sensitivity.NONE),
        ({"email": 0}, Sensitivity.NONE),
        ({"email": 2, "ip_address": 1}, Sensitivity.PII),
        ({"email": 1, "confidential_marker": 1}, Sensitivity.CONFIDENTIAL),
        ({"phone": 1, "jwt": 1, "confidential_marker": 3}, Sensitivity.SECRET),
    ],
)
def test_level_is_the_highest_kind(findings: dict[str, int], level: Sensitivity) -> None:
    assert level_of(findings) is level


def test_every_kind_has_a_level() -> None:
    assert set(KIND_LEVELS) == {
        "email", "phone", "payment_card", "iban", "us_ssn", "ip_address",
        "confidential_marker", "api_key", "jwt", "private_key", "password", "webhook",
        "connection_string", "service_account",
    }  # fmt: skip
