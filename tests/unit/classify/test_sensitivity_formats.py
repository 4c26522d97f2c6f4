"""The newer formats: webhooks, connection strings, service accounts, bare and dotted cards,
lower-case IBANs; each with positives and with near-misses that must stay clean.

Fake credentials are assembled from parts so that no secret scanner mistakes this file for a leak.
"""

from __future__ import annotations

import json

import pytest

from router.classify.sensitivity import KIND_LEVELS, scan_text
from router.classify.types import Sensitivity

RANDOM = "Zk3pQ8vX1tY7wK3pJ9bH4mN6rS2uV5xA8cE0gI3lRt5yU7iO9pAs2dF4gH6jK8lZx1cV3bN5mQ7wE9"
GUID = "3f2b8c1e-9d4a-4b7e-8f6a-2c1d0e9b8a7f"


def slack() -> str:
    return "https://hooks.slack.com/services/" + "T0A1B2C3D/B0A1B2C3D/" + RANDOM[:24]


def discord() -> str:
    return "https://discord.com/api/webhooks/" + "112233445566778899/" + RANDOM[:68]


def teams() -> str:
    return (
        f"https://acme.webhook.office.com/webhookb2/{GUID}@{GUID}/IncomingWebhook/"
        f"9f8e7d6c5b4a39281706f5e4d3c2b1a0/{GUID}"
    )


def logic_app() -> str:
    return (
        "https://prod-12.westus.logic.azure.com:443/workflows/9f8e7d6c5b4a39281706f5e4d3c2b1a0"
        "/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun"
        "&sv=1.0&sig=" + RANDOM[:43]
    )


def service_account(key: bool = True) -> str:
    account: dict[str, str] = {
        "type": "service_account",
        "project_id": "acme-prod",
        "client_id": "112233445566778899001",
    }
    if key:
        account["private_key_id"] = "9f8e7d6c5b4a39281706f5e4d3c2b1a0f1e2d3c4"
        account["private_key"] = (
            "-----BEGIN "
            + "PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC"
            + RANDOM
            + "\n-----END PRIVATE KEY-----\n"
        )
    return json.dumps(account, indent=2)


POSITIVES = [
    # webhooks
    (f"post alerts to {slack()}", "webhook"),
    (f"WEBHOOK_URL={discord()}", "webhook"),
    (f"teams: {teams()}", "webhook"),
    (f"flow {logic_app()}", "webhook"),
    ("https://chat.googleapis.com/v1/spaces/AAAAb1c2d3e/messages?key=AIza" + RANDOM[:35]
     + "&token=" + RANDOM[:43], "webhook"),
    ("zap https://hooks.zapier.com/hooks/catch/1234567/abc12de/", "webhook"),
    ("https://maker.ifttt.com/trigger/door_open/with/key/" + RANDOM[:22], "webhook"),
    ("https://chat.example.com/hooks/" + "x1b9zq4m7k2p8w3r6t5y0u4i1o", "webhook"),
    # database and broker URLs with a password
    ("DATABASE_URL=postgresql://admin:Tr0ub4dor&3@db.example.com:5432/payroll",
     "connection_string"),
    ("mysql://app:Hx7kq29LmZp@db.example.com:3306/shop", "connection_string"),
    ("MONGO_URI=mongodb+srv://svc:Zq8%21pLm2@cluster0.abcde.mongodb.net/prod",
     "connection_string"),
    ("redis://:S3cr3tRedisPass@cache.example.com:6379/0", "connection_string"),
    ("BROKER=amqp://worker:Wq9zLk2Pm@rabbit.example.com:5672/vhost", "connection_string"),
    ("engine = create_engine('postgresql+psycopg2://etl:Kp3nM8qZ@dw.example.com/dw')",
     "connection_string"),
    # JDBC and ADO.NET
    ("jdbc:sqlserver://db.example.com:1433;databaseName=hr;user=sa;password=Secr3tPass!;",
     "connection_string"),
    ("jdbc:mysql://db.example.com:3306/shop?user=app&password=Hx7kq29LmZp",
     "connection_string"),
    ("url=jdbc:oracle:thin:scott/T1ger2024@db.example.com:1521:ORCL", "connection_string"),
    ("Server=tcp:sql.example.com,1433;Database=hr;User ID=app;Password=Pq7zXw2Lm9;",
     "connection_string"),
    ("Host=pg.example.com;Username=app;Password=Pq7zXw2Lm9;Database=hr", "connection_string"),
    # Azure storage and Service Bus
    ("DefaultEndpointsProtocol=https;AccountName=acmestore;AccountKey=" + RANDOM + "==;"
     "EndpointSuffix=core.windows.net", "connection_string"),
    ("Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;"
     "SharedAccessKey=" + RANDOM[:43] + "=", "connection_string"),
    # service accounts
    (service_account(), "service_account"),
    ("creds = " + repr(json.loads(service_account())), "service_account"),
    # payment cards with no card word, in an issuer's range and Luhn-valid
    ("ref 5555555555554444", "payment_card"),
    ("4111111111111111", "payment_card"),
    ("paid with 378282246310005 yesterday", "payment_card"),
    ("number: 6011111111111117.", "payment_card"),
    # dotted cards
    ("4111.1111.1111.1111", "payment_card"),
    ("pay 5555.5555.5555.4444 now", "payment_card"),
    # IBANs in lower case, with or without spaces
    ("pay into gb82 west 1234 5698 7654 32", "iban"),
    ("iban de89370400440532013000", "iban"),
    # an SSN with dots, after its label
    ("SSN: 078.05.1120", "us_ssn"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "kind"), POSITIVES)
def test_new_format_found(text: str, kind: str) -> None:
    scan = scan_text(text)
    assert scan.findings.get(kind, 0) >= 1, scan.findings
    assert scan.level is KIND_LEVELS[kind]


def test_a_webhook_counts_once_though_it_holds_a_key() -> None:
    text = ("https://chat.googleapis.com/v1/spaces/AAAAb1c2d3e/messages?key=AIza" + RANDOM[:35]
            + "&token=" + RANDOM[:43])  # fmt: skip
    assert scan_text(text).findings == {"webhook": 1}


def test_a_connection_string_is_not_also_an_email() -> None:
    scan = scan_text("postgresql://admin:Tr0ub4dor&3@db.example.com:5432/payroll")
    assert scan.findings == {"connection_string": 1}


NEAR_MISSES = [
    # webhooks: documentation placeholders and pages about webhooks
    "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    "see https://api.slack.com/messaging/webhooks for incoming webhooks",
    "https://discord.com/api/webhooks/{webhook.id}/{webhook.token}",
    "Create an Incoming Webhook connector in Microsoft Teams.",
    "https://maker.ifttt.com/trigger/{event}/with/key/{your_key}",
    "see /hooks/useeffectcleanupfunctions in the docs",
    # URLs without a password, or with a placeholder or local default
    "postgresql://localhost/db",
    "postgres://db.example.com:5432/app",
    "redis://localhost:6379/0",
    "mongodb://reader@db.example.com/app",
    "postgresql://user:password@localhost/db",
    "postgres://postgres:postgres@localhost:5432/postgres",
    "mysql://root:${MYSQL_ROOT_PASSWORD}@db/app",
    "postgresql://<user>:<password>@<host>:<port>/<db>",
    "amqp://guest:guest@localhost:5672/",
    "jdbc:postgresql://localhost:5432/test",
    "https://docs.example.com:443/guide",
    "AccountKey=<your-account-key>",
    "return build_url(host=resolved_host, port=resolved_port, password=resolved_password)",
    "Server=sql.example.com;Database=hr;Password=db_password_from_vault;",
    # service-account mentions without a key
    service_account(key=False),
    'set "type": "service_account" in the JSON file',
    # bare digit runs among other numbers, failing Luhn, or outside issuer ranges
    "mpf((1, 6458161865649291, -53, 53))",
    "x = 4111111111111111 * 2",
    "579704230 * 602265 = 349135568080950",
    "card 4111111111111112",
    "4111111111111112",
    "id 1234567812345670",
    "ts 1700000000000000",
    "pi 3.1415.9265.3589",
    "4111.1111.1111.1112",
    # lower-case IBAN shapes that fail
    "gb82 west 1234 5698 7654 33",
    "ab12 cdef 3456 7890 1234",
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_new_format_near_miss_finds_nothing(text: str) -> None:
    scan = scan_text(text)
    assert scan.findings == {}, scan.findings
    assert scan.level is Sensitivity.NONE


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("card 4539_1488_0343_6467", "payment_card"),
        ("card 4539/1488/0343/6467", "payment_card"),
        ("pay 4539|1488|0343|6467", "payment_card"),
        ("4 5 3 9 1 4 8 8 0 3 4 3 6 4 6 7", "payment_card"),
        ("write to jane(at)example(dot)com", "email"),
        ("write to jane [at] example [dot] com", "email"),
        ("write to jane {AT} example {DOT} com", "email"),
    ],
)
def test_separators_and_spelled_out_addresses_do_not_hide_values(text: str, kind: str) -> None:
    assert scan_text(text).findings == {kind: 1}


@pytest.mark.parametrize(
    "text",
    [
        "released 2024/03/12, patched 2024/04/02",
        "x|1234|5678|9012|3456|y",
        "budget 12_000_000_000_000 tokens",
        "(at) least three, [dot] product",
        "4 5 3 9 1 4 8 8 0 3 4 3 6 4 6 8",  # fails Luhn
    ],
)
def test_look_alikes_of_those_disguises_are_not_findings(text: str) -> None:
    assert scan_text(text).findings == {}
