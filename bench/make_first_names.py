"""Regenerates `router/classify/data/first_names.txt`, the first names `_personal` recognises.

Source: the first-name lists of Faker's person providers (MIT licence, Faker 40.x) for
Latin-script locales. Faker is needed only to run this script, not by Junction:

    pip install --target /tmp/faker 'faker>=30,<41'
    PYTHONPATH=/tmp/faker python bench/make_first_names.py

Names that are also common English words or places ("May", "Will", "Georgia") are left out,
since a capitalised word at the start of a sentence would otherwise read as a person.
"""

from __future__ import annotations

import importlib
import unicodedata
from pathlib import Path

LOCALES = (
    "en_US", "en_GB", "en_IE", "en_IN", "en_NZ", "en_KE", "en_NG", "de_DE", "fr_FR", "es_ES",
    "es_MX", "it_IT", "pt_BR", "pt_PT", "nl_NL", "pl_PL", "sv_SE", "da_DK", "no_NO", "fi_FI",
    "cs_CZ", "ro_RO", "hu_HU", "tr_TR", "id_ID", "hr_HR", "sk_SK", "sl_SI", "ga_IE", "et_EE",
    "tw_GH", "en_PK", "ja_JP", "zh_TW",  # the last two through their romanised lists
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Capitalised words that are names too rarely to count as one on their own.
COMMON_WORDS = _words(
    """
    may june april august will mark bill grace hope faith joy rose lily iris ivy daisy
    violet amber ruby crystal summer autumn dawn eve art guy sky star rich frank sunny
    page chase hunter mason cash chance christian rod gene pat sue don ray dean earl
    duke king bishop major victor georgia florida virginia carolina austin dallas jordan
    paris sydney chelsea lincoln washington madison charlotte florence adelaide victoria
    regina eugene troy orlando phoenix savannah denver houston brooklyn london india
    china asia kenya israel the and for but not can did per via van von del della des
    der les las los ali patient doctor nurse client customer employee manager director
    dear hello thanks monday tuesday wednesday thursday friday saturday sunday january
    february march july september october november december easter christmas sale bank
    case law lane street court park hall young long short brown black white green gray
    grey little price bond miles wells lee long love angel precious harmony melody honey
    sugar candy cookie young else unity liberty trinity destiny justice royal baby sage
    river rain storm augusta job jobs german norman willow diamond pearl jade coral olive
    brandy mercedes
    """
)


def main() -> None:
    names: set[str] = set()
    for locale in LOCALES:
        module = importlib.import_module(f"faker.providers.person.{locale}")
        provider = module.Provider
        for attr in ("first_names", "first_names_male", "first_names_female",
                     "first_romanized_names", "first_romanized_names_male",
                     "first_romanized_names_female"):
            value = getattr(provider, attr, ())
            for name in value:
                folded = unicodedata.normalize("NFC", str(name)).strip().lower()
                if len(folded) >= 3 and folded.isalpha() and folded not in COMMON_WORDS:
                    names.add(folded)
    out = Path(__file__).resolve().parents[1] / "router/classify/data/first_names.txt"
    header = (
        "# First names (lower case), from Faker's person providers (MIT licence, "
        "https://github.com/joke2k/faker); regenerate with bench/make_first_names.py\n"
    )
    out.write_text(header + "\n".join(sorted(names)) + "\n", encoding="utf-8")
    print(f"{len(names)} names, {out.stat().st_size} bytes -> {out}")


if __name__ == "__main__":
    main()
