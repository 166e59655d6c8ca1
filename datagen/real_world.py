"""Variation real customer data has and a deterministic graph cannot see through, planted into generated persons
and records: work and personal emails (a B2B CRM holds the work one, the shop the personal one), nicknames and
typos in names, changed mobile numbers, families sharing a surname and a landline, and common names in one city
(different people whom only a careless matcher would join). Drawn from its own seeded RNG, so the generator's
other draws, row counts and ids stay as they were; ground truth still names each record's person."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Protocol

NICKNAMES = {
    "James": "Jim", "Robert": "Bob", "John": "Johnny", "Michael": "Mike", "William": "Bill", "David": "Dave",
    "Richard": "Rick", "Joseph": "Joe", "Thomas": "Tom", "Charles": "Charlie", "Elizabeth": "Liz",
    "Jennifer": "Jen", "Patricia": "Pat", "Susan": "Sue", "Jessica": "Jess", "Barbara": "Barb", "Oliver": "Ollie",
    "Lucas": "Luke", "Sophie": "Sophia", "Anna": "Anne", "Jonas": "Jon", "Marie": "Mary", "Ethan": "Eth",
    "Jack": "Jackie", "Max": "Maximilian", "Liam": "Will", "Zoe": "Zoey", "Karen": "Kaz", "Linda": "Lindy",
    "Sarah": "Sally", "Mary": "Molly", "Noah": "Noe", "Finn": "Finnian", "Leo": "Leon", "Lena": "Helena",
}
COMMON_NAMES = (("John", "Smith"), ("Maria", "Garcia"), ("David", "Miller"), ("Anna", "Müller"))
WORK_EMAIL_SHARE = 0.3       # people with a work email besides their personal one (the generator gives 12%)
CRM_WORK_EMAIL_SHARE = 0.85  # a CRM contact of such a person carries the work email
NICKNAME_SHARE = 0.2         # a named record of a person with a nickname uses it
TYPO_SHARE = 0.06            # a named record with a typo in the first or last name
NEW_MOBILE_SHARE = 0.15      # people whose shop account has a newer mobile than their CRM contact
FAMILY_SURNAME_SHARE = 0.8   # household pairs that share a surname (a family) besides the landline
COMMON_NAME_SHARE = 0.02     # people given one of COMMON_NAMES, placed in their country's first city


class PersonLike(Protocol):
    key: str
    first: str
    last: str
    country: str
    city: str
    emails: list[str]
    company: str
    household: int | None


def _typo(rng: random.Random, name: str) -> str:
    if len(name) < 4:
        return name
    i = rng.randrange(1, len(name) - 1)
    kind = rng.random()
    if kind < 0.4:
        return name[:i] + name[i + 1] + name[i] + name[i + 2:]  # swapped neighbours
    if kind < 0.7:
        return name[:i] + name[i + 1:]  # a dropped letter
    return name[:i] + name[i] + name[i:]  # a doubled letter


class RealWorld:
    """Per-person facts decided once (plant), then each record's variant (name, email, phone) on demand."""

    def __init__(self, seed: int):
        self.rng = random.Random(f"real-world-{seed}")
        self.work_email: dict[str, str] = {}
        self.new_mobile: dict[str, str] = {}

    def plant(self, people: Sequence[PersonLike], cities: Callable[[str], Sequence[str]],
              new_mobile: Callable[[random.Random, str], str], index_of: Callable[[PersonLike], int]) -> None:
        rng = self.rng
        by_household: dict[int, PersonLike] = {}
        for p in people:
            n = index_of(p)
            if rng.random() < COMMON_NAME_SHARE:
                p.first, p.last = rng.choice(COMMON_NAMES)
                p.city = cities(p.country)[0]
                domain = p.emails[0].split("@", 1)[1]
                p.emails[0] = f"{p.first}.{p.last}{n}@{domain}".lower()
            if p.household is not None:
                partner = by_household.setdefault(p.household, p)
                if partner is not p and rng.random() < FAMILY_SURNAME_SHARE:
                    p.last = partner.last
                    domain = p.emails[0].split("@", 1)[1]
                    p.emails[0] = f"{p.first}.{p.last}{n}@{domain}".lower()
            if len(p.emails) > 1:
                self.work_email[p.key] = p.emails[1]
            elif rng.random() < WORK_EMAIL_SHARE / (1 - 0.12):
                self.work_email[p.key] = f"{p.first[0]}{p.last}{n}@{p.company.split()[0]}.com".lower()
            if rng.random() < NEW_MOBILE_SHARE:
                self.new_mobile[p.key] = new_mobile(rng, p.country)

    def name(self, p: PersonLike) -> tuple[str, str]:
        rng = self.rng
        first, last = p.first, p.last
        if first in NICKNAMES and rng.random() < NICKNAME_SHARE:
            first = NICKNAMES[first]
        if rng.random() < TYPO_SHARE:
            if rng.random() < 0.5:
                first = _typo(rng, first)
            else:
                last = _typo(rng, last)
        return first, last

    def crm_email(self, p: PersonLike, chosen: str) -> str:
        work = self.work_email.get(p.key)
        return work if work and self.rng.random() < CRM_WORK_EMAIL_SHARE else chosen

    def ticket_email(self, p: PersonLike, chosen: str) -> str:
        work = self.work_email.get(p.key)
        return work if work and self.rng.random() < 0.3 else chosen

    def shop_mobile(self, p: PersonLike) -> str | None:
        return self.new_mobile.get(p.key)
