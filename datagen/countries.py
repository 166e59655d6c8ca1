"""The countries the generator places people in: calling code, trunk prefix, currency, cities and the ways
the country column is written; and phone numbers as people type them, in ranges libphonenumber holds valid."""

from __future__ import annotations

import random

# country -> (calling code, trunk prefix, currency, cities, ways the country column is written)
COUNTRIES: dict[str, tuple[str, str, str, tuple[str, ...], tuple[str, ...]]] = {
    "US": ("1", "", "USD", ("San Francisco", "New York", "Chicago", "Boston", "Seattle", "Austin"),
           ("US", "USA", "United States", "us")),
    "CA": ("1", "", "CAD", ("Toronto", "Vancouver", "Montreal", "Calgary"), ("CA", "Canada")),
    "GB": ("44", "0", "GBP", ("London", "Manchester", "Bristol", "Leeds"), ("GB", "UK", "United Kingdom")),
    "DE": ("49", "0", "EUR", ("Berlin", "Hamburg", "Munich", "Cologne"), ("DE", "Germany", "Deutschland")),
    "FR": ("33", "0", "EUR", ("Paris", "Lyon", "Marseille", "Lille"), ("FR", "France")),
    "NL": ("31", "0", "EUR", ("Amsterdam", "Rotterdam", "Utrecht"), ("NL", "Netherlands")),
    "AU": ("61", "0", "AUD", ("Sydney", "Melbourne", "Brisbane"), ("AU", "Australia")),
    "ES": ("34", "", "EUR", ("Madrid", "Barcelona", "Valencia"), ("ES", "Spain")),
    "IE": ("353", "0", "EUR", ("Dublin", "Cork", "Galway"), ("IE", "Ireland")),
}
COUNTRY_WEIGHTS = {"US": 40, "CA": 6, "GB": 15, "DE": 12, "FR": 8, "NL": 5, "AU": 6, "ES": 4, "IE": 4}
US_AREAS = ("415", "212", "646", "312", "617", "206", "512", "303", "305", "404")
CA_AREAS = ("416", "604", "514", "403")


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def mobile_nsn(rng: random.Random, country: str) -> str:
    """A national significant number in a range libphonenumber holds valid for the country."""
    if country == "US":
        return rng.choice(US_AREAS) + str(rng.randint(2, 9)) + _digits(rng, 2) + _digits(rng, 4)
    if country == "CA":
        return rng.choice(CA_AREAS) + str(rng.randint(2, 9)) + _digits(rng, 2) + _digits(rng, 4)
    if country == "GB":
        return "74" + rng.choice("01234") + _digits(rng, 7)
    if country == "DE":
        return "17" + _digits(rng, 1) + _digits(rng, 7)
    if country == "FR":
        return "6" + rng.choice("0124578") + _digits(rng, 7)
    if country == "NL":
        return "6" + rng.choice("12345") + _digits(rng, 7)
    if country == "AU":
        return "4" + rng.choice("0123") + _digits(rng, 7)
    if country == "ES":
        return "6" + _digits(rng, 8)
    return "8" + rng.choice("35679") + _digits(rng, 7)  # IE


def landline_nsn(rng: random.Random, country: str) -> str:
    if country == "GB":
        return "207946" + _digits(rng, 4)
    if country == "DE":
        return "30" + str(rng.randint(2, 9)) + _digits(rng, 7)
    if country == "FR":
        return "1" + str(rng.randint(4, 5)) + _digits(rng, 7)
    return mobile_nsn(rng, country)  # NANP and others: same shape as a mobile


def format_phone(rng: random.Random, country: str, nsn: str, international_only: bool = False) -> tuple[str, bool]:
    """Write a phone number the way people type it. Returns (text, recoverable without a country)."""
    cc, trunk = COUNTRIES[country][0], COUNTRIES[country][1]
    e164 = f"+{cc}{nsn}"
    if cc == "1":
        a, b, c = nsn[:3], nsn[3:6], nsn[6:]
        intl = [e164, f"+1 ({a}) {b}-{c}", f"+1 {a} {b} {c}", f"+1-{a}-{b}-{c}", f"001 {a} {b} {c}"]
        national = [f"({a}) {b}-{c}", f"{a}.{b}.{c}", f"{a}-{b}-{c}", f"1-{a}-{b}-{c}", nsn, f"{a} {b} {c}",
                    f"{a}-{b}-{c} ext 12"]
    else:
        head, tail = nsn[:4], nsn[4:]
        pairs = " ".join(nsn[i:i + 2] for i in range(1, len(nsn), 2))
        intl = [e164, f"+{cc} {head} {tail}", f"00{cc} {head} {tail}", f"+{cc} ({trunk or 0}){nsn}"
                if trunk else f"+{cc} {nsn}", f"+{cc}-{nsn[:3]}-{nsn[3:]}"]
        national = [f"{trunk}{head} {tail}", f"{trunk}{nsn}", f"{trunk}{nsn[0]} {pairs}",
                    f"{trunk}{nsn[:3]}/{nsn[3:]}", f"{trunk}{nsn[:3]}-{nsn[3:]}"]
    if international_only or rng.random() < 0.4:
        return rng.choice(intl), True
    return rng.choice(national), False
