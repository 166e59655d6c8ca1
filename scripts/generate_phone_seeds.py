"""Write the phone rules seeds from libphonenumber's metadata (the `phonenumbers` package), so the length
rules staging applies are libphonenumber's, not hand-typed:

- seeds/country_codes.csv: every way a country is written (hand-kept aliases below, plus each region's
  ISO 3166-1 alpha-2 code) with its calling code and national trunk prefix;
- seeds/phone_number_lengths.csv: for every 3-digit start of an E.164 number's digits, the calling code it
  begins with and the national significant number lengths libphonenumber holds possible for that code
  (the union over the regions sharing it). Calling codes are prefix-free, so one equi-join on the first
  three digits finds a number's code.

Run after upgrading phonenumbers: `.venv/bin/python scripts/generate_phone_seeds.py`; the files are
committed, and tests/test_staging_build.py checks they match the installed metadata."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from pathlib import Path

import phonenumbers
from phonenumbers import PhoneMetadata

SEEDS = Path(__file__).resolve().parents[1] / "seeds"

# How source systems write countries, beyond the ISO code (lower-cased, trimmed). Keep sorted by code.
ALIASES: dict[str, tuple[str, ...]] = {
    "AT": ("austria",),
    "AU": ("australia",),
    "BE": ("belgium",),
    "BR": ("brazil",),
    "CA": ("canada",),
    "CH": ("switzerland",),
    "DE": ("germany", "deutschland"),
    "DK": ("denmark",),
    "ES": ("spain", "espana"),
    "FR": ("france",),
    "GB": ("uk", "united kingdom", "great britain", "england"),
    "IE": ("ireland",),
    "IN": ("india",),
    "IT": ("italy",),
    "JP": ("japan",),
    "MX": ("mexico",),
    "NL": ("netherlands", "the netherlands"),
    "NO": ("norway",),
    "NZ": ("new zealand",),
    "PL": ("poland",),
    "PT": ("portugal",),
    "SE": ("sweden",),
    "US": ("usa", "united states", "united states of america"),
}


def _lengths(metadata: PhoneMetadata) -> set[int]:
    return set(metadata.general_desc.possible_length or ())


def trunk_prefix(region: str, metadata: PhoneMetadata) -> str:
    """The digits dialled before a national number: libphonenumber's national prefix, or where its own national
    format of the region's example numbers writes a longer one (Belarus: 8 0xx, national prefix 8), that one."""
    prefix = metadata.national_prefix or ""
    written: Counter[str] = Counter()
    for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE):
        example = phonenumbers.example_number_for_type(region, kind)
        if example is not None:
            nsn = phonenumbers.national_significant_number(example)
            national = re.sub(r"\D", "", phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL))
            if national.endswith(nsn):
                written[national[: len(national) - len(nsn)]] += 1
    common = written.most_common(1)[0][0] if written else ""
    return common if prefix and common.startswith(prefix) and len(common) > len(prefix) else prefix


def country_rows() -> list[list[str]]:
    """(country_text, country_code, calling_code, trunk_prefix) for every region libphonenumber knows.

    NANP (calling code 1) gets no trunk prefix: its leading 1 is handled by the NANP rule in
    macros/normalise/phone.sql (10 digits, or 11 starting with 1)."""
    rows = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        metadata = PhoneMetadata.metadata_for_region(region)
        calling_code = str(metadata.country_code)
        trunk = "" if calling_code == "1" else trunk_prefix(region, metadata)
        for text in (region.lower(), *ALIASES.get(region, ())):
            rows.append([text, region, calling_code, trunk])
    return sorted(rows)


def length_rows() -> list[list[str]]:
    """(dial_prefix, calling_code, regions, nsn_lengths) for every 3-digit start of a known calling code."""
    by_code: dict[str, tuple[set[str], set[int]]] = {}
    for region in phonenumbers.SUPPORTED_REGIONS:
        metadata = PhoneMetadata.metadata_for_region(region)
        regions, lengths = by_code.setdefault(str(metadata.country_code), (set(), set()))
        regions.add(region)
        lengths |= _lengths(metadata)
    for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        metadata = PhoneMetadata.metadata_for_nongeo_region(code)
        if metadata is not None:
            regions, lengths = by_code.setdefault(str(code), (set(), set()))
            regions.add("001")  # libphonenumber's name for non-geographic numbers
            lengths |= _lengths(metadata)
    rows = []
    for code, (regions, lengths) in by_code.items():
        pad = 3 - len(code)
        for tail in range(10 ** pad):
            prefix = code + (str(tail).zfill(pad) if pad else "")
            rows.append([prefix, code, " ".join(sorted(regions)),
                         "," + ",".join(str(n) for n in sorted(lengths)) + ","])
    prefixes = [r[0] for r in rows]
    assert len(prefixes) == len(set(prefixes)), "calling codes are prefix-free"
    return sorted(rows)


def render(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def seeds() -> dict[str, str]:
    return {
        "country_codes.csv": render(["country_text", "country_code", "calling_code", "trunk_prefix"], country_rows()),
        "phone_number_lengths.csv": render(["dial_prefix", "calling_code", "regions", "nsn_lengths"], length_rows()),
    }


def main() -> None:
    for name, text in seeds().items():
        (SEEDS / name).write_text(text, encoding="utf-8")
        print(f"wrote seeds/{name} ({text.count(chr(10)) - 1} rows, phonenumbers {phonenumbers.__version__})")


if __name__ == "__main__":
    main()
