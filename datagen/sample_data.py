"""Deterministic generator of messy raw source data that follows docs/raw_sources.md.

Besides the six raw CSVs it writes `ground_truth.csv`: for every source record, the person it belongs
to and the identifiers it carries in a form a perfect deterministic normaliser could recover
(`link_keys`). Tests use it to measure identity resolution against the ideal deterministic clusters:
records of one person joined through real, non-placeholder identifiers.

The mess is the contract's: mixed-case and padded emails, malformed and placeholder identifiers,
phones in many national and international formats, households sharing a landline, a shared mailbox
used by many shop accounts, re-delivered record versions, byte-for-byte duplicates, blank strings,
unparseable dates and amounts, unknown statuses and rows without a key. On top, what real people do
(datagen.real_world): work and personal emails, nicknames and typos in names, changed phones, families sharing a
surname and landline, common names in one city.
"""

from __future__ import annotations

import csv
import random
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from datagen import countries
from datagen.countries import COUNTRIES, COUNTRY_WEIGHTS, format_phone
from datagen.real_world import RealWorld

RAW_FILES: dict[str, list[str]] = {
    "crm_contacts": [
        "contact_id", "email", "phone", "first_name", "last_name", "company", "job_title", "city",
        "country", "lifecycle_stage", "created_at", "updated_at",
    ],
    "shop_customers": [
        "customer_id", "email", "phone", "first_name", "last_name", "city", "country",
        "accepts_marketing", "created_at", "updated_at",
    ],
    "shop_orders": ["order_id", "customer_id", "email", "status", "currency", "total_amount", "ordered_at"],
    "web_events": [
        "event_id", "anonymous_id", "user_id", "email", "event_type", "event_name", "page_url", "occurred_at",
    ],
    "support_tickets": [
        "ticket_id", "requester_email", "requester_phone", "requester_name", "subject", "channel", "status",
        "priority", "created_at", "solved_at", "satisfaction_score",
    ],
    "email_consents": ["email", "status", "source", "updated_at"],
}
GROUND_TRUTH_COLUMNS = ["source_name", "source_record_id", "person_key", "link_keys"]

FIRST = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen", "Emma", "Oliver", "Sophie", "Lucas", "Mia", "Noah", "Lea", "Finn", "Anna", "Jonas", "Marie", "Luca", "Chloe", "Hugo", "Lena", "Arthur", "Zoe", "Liam", "Ava", "Ethan", "Isla", "Jack", "Grace", "Leo", "Ruby", "Max", "Ella", "Seán", "Zoë", "José", "Chloé", "Léa", "Björn", "Søren", "Renée", "Joël", "Inés", "Zoé", "D'Arcy", "Ana-María", "Jérôme", "Åsa"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Hall", "Allen", "Young", "King", "Wright", "Muller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Dubois", "Durand", "Leroy", "Moreau", "Laurent", "DeVries", "Jansen", "Bakker", "Visser", "Murphy", "Kelly", "Walsh", "Byrne", "Lopez", "Sanchez", "Perez", "Gomez", "Novak", "Horvat", "O'Brien", "O'Neill", "D'Angelo", "O'Connor", "García", "Müller", "Núñez", "Gómez", "Dvořák", "Öztürk", "Lefèvre", "Ødegaard", "Štefanović", "Björklund", "Kowalczyk-Wójcik"]
FREE_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "proton.me", "gmx.de", "orange.fr",
                "hotmail.co.uk", "web.de", "bigpond.com")
COMPANIES = ("Acme Corp", "Globex", "Initech", "Umbrella Retail", "Stark Industries", "Wayne Enterprises",
             "Hooli", "Vandelay Imports", "Soylent", "Tyrell Systems", "Cyberdyne", "Wonka Foods")
TITLES = ("CEO", "CTO", "Marketing Manager", "Data Analyst", "Head of Sales", "Engineer", "Buyer",
          "Operations Lead", "Founder", "Product Manager")
LIFECYCLE = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer")


PLACEHOLDER_EMAILS = ("test@test.com", "noreply@example.com", "n/a", "unknown", "none@none.com", "-")
MALFORMED_EMAILS = ("john.doe@", "@gmail.com", "jane..doe@@outlook.com", "not an email", "mary@localhost")
PLACEHOLDER_PHONES = ("0000000000", "unknown", "n/a", "1234567890", "000-000-0000", "-")
BAD_DATES = ("not a date", "2026-02-30", "31/02/2026", "yesterday", "2026-13-01T10:00:00Z")
BAD_AMOUNTS = ("12,34", "abc", "$", "1.2.3", "NaN?")
SHARED_MAILBOX = "orders@bigagency-purchasing.com"
ORDER_STATUSES = ("placed", "paid", "shipped", "refunded", "cancelled")
ORDER_STATUS_WEIGHTS = (8, 35, 45, 7, 5)
EPOCH = datetime(2024, 1, 1)
SPAN_DAYS = 1000  # timestamps spread from 2024-01-01 over roughly 2.7 years
SPAN_END = EPOCH + timedelta(days=SPAN_DAYS)


@dataclass
class Person:
    key: str
    first: str
    last: str
    country: str
    city: str
    emails: list[str]
    mobile_nsn: str  # national significant number, no trunk prefix
    landline_nsn: str | None = None
    company: str = ""
    title: str = ""
    household: int | None = None


# Planted buying behaviour (orders of shop customers and guests), so that tests can check that the fitted
# models recover it. Time unit: weeks; spend in the reporting currency (USD), converted to the buyer's
# currency. Per buyer: transaction rate lambda ~ Gamma(shape r, rate alpha), dropout probability
# p ~ Beta(a, b) after each repeat order (BG/NBD, Fader, Hardie & Lee 2005); spend scale nu ~ Gamma(shape q,
# rate gamma) and each order's value ~ Gamma(shape p, rate nu) (Gamma-Gamma). Planted orders are paid or
# shipped; on top, some buyers have one placed, refunded or cancelled order, which the models ignore.
PLANTED_BG_NBD = {"r": 0.6, "alpha": 20.0, "a": 0.8, "b": 3.0}
PLANTED_GAMMA_GAMMA = {"p": 6.0, "q": 4.0, "gamma": 40.0}
PLANTED_BUYER_SHARE = 0.8  # shop customers who make a first order
PLANTED_NON_REVENUE_SHARE = 0.25  # buyers with one extra placed, refunded or cancelled order
USD_PER_UNIT = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27, "CAD": 0.73, "AUD": 0.66}  # seeds/currency_rates.csv


def _planted_orders(rng: random.Random, first: datetime, currency: str) -> list[tuple[datetime, str, str]]:
    """(ordered_at, amount in `currency`, status) of one buyer, from the first order at `first` until the
    end of the sample period, drawn from the planted BG/NBD and Gamma-Gamma process."""
    end = EPOCH + timedelta(days=SPAN_DAYS)
    if first >= end:
        return []
    bg, gg = PLANTED_BG_NBD, PLANTED_GAMMA_GAMMA
    rate = rng.gammavariate(bg["r"], 1.0 / bg["alpha"])  # per week
    dropout = rng.betavariate(bg["a"], bg["b"])
    nu = rng.gammavariate(gg["q"], 1.0 / gg["gamma"])
    times = [first]
    while rate > 0:
        wait_weeks = rng.expovariate(rate)
        if wait_weeks * 7 >= (end - times[-1]).total_seconds() / 86400:
            break
        times.append(times[-1] + timedelta(weeks=wait_weeks))
        if rng.random() < dropout:
            break
    out = []
    for t in times:
        usd = rng.gammavariate(gg["p"], 1.0 / nu)
        out.append((t, f"{max(usd, 0.01) / USD_PER_UNIT[currency]:.2f}", rng.choice(("paid", "shipped"))))
    if rng.random() < PLANTED_NON_REVENUE_SHARE:
        t = first + timedelta(days=rng.uniform(0, (end - first).total_seconds() / 86400))
        out.append((t, f"{rng.uniform(5, 200):.2f}", rng.choice(("placed", "refunded", "cancelled"))))
    return out


def _ts(rng: random.Random, day_lo: float, day_hi: float) -> datetime:
    return EPOCH + timedelta(days=rng.uniform(day_lo, day_hi))


def _write_ts(rng: random.Random, t: datetime) -> str:
    r = rng.random()
    if r < 0.55:
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    if r < 0.92:
        return t.strftime("%Y-%m-%d %H:%M:%S")
    return t.strftime("%Y-%m-%d")


class _Mess:
    """Applies the contract's kinds of mess with fixed rates, from one seeded RNG."""

    def __init__(self, rng: random.Random, scale: float = 1.0):
        self.rng = rng
        self.scale = scale

    def chance(self, p: float) -> bool:
        return self.rng.random() < p * self.scale

    def email(self, email: str) -> tuple[str, str | None]:
        """Returns (raw text, canonical email if recoverable)."""
        rng = self.rng
        if self.chance(0.007):
            return rng.choice(PLACEHOLDER_EMAILS), None
        if self.chance(0.01):
            return rng.choice(MALFORMED_EMAILS), None
        raw = email
        if self.chance(0.08):
            raw = raw.upper() if rng.random() < 0.5 else raw.title()
        if self.chance(0.05):
            raw = f"  {raw} "
        return raw, email

    def ts(self, t: datetime) -> str:
        if self.chance(0.003):
            return self.rng.choice(BAD_DATES)
        # no event after the span's end: the contract quarantines timestamps later than a day after the load,
        # and a later-versions batch (a day of new data) stamps its changes just after the span
        return _write_ts(self.rng, min(t, SPAN_END))


def generate(persons: int, seed: int, out: Path, *, start_index: int = 0, mess: float = 1.0) -> dict[str, int]:
    """Write the six raw CSVs and ground_truth.csv for `persons` people into `out`.

    `start_index` offsets person and record numbering so that a later batch ("a day of new data") can be
    generated for new people without clashing with an earlier one.
    """
    rng = random.Random(seed)
    mx = _Mess(rng, mess)
    out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[list[str]]] = {name: [] for name in RAW_FILES}
    truth: list[list[str]] = []
    country_codes = list(COUNTRY_WEIGHTS)
    weights = list(COUNTRY_WEIGHTS.values())
    shared_mailbox_left = max(5, min(40, persons // 500))

    people: list[Person] = []
    for i in range(start_index, start_index + persons):
        country = rng.choices(country_codes, weights)[0]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        n = i  # unique suffix keeps personal emails unique across persons
        emails = [f"{first}.{last}{n}@{rng.choice(FREE_DOMAINS)}".lower()]
        company = rng.choice(COMPANIES)
        if rng.random() < 0.12:
            emails.append(f"{first[0]}{last}{n}@{company.split()[0]}.com".lower())
        people.append(Person(
            key=f"P{i:08d}", first=first, last=last, country=country,
            city=rng.choice(COUNTRIES[country][3]), emails=emails, mobile_nsn=countries.mobile_nsn(rng, country),
            company=company, title=rng.choice(TITLES),
        ))
    # households: pairs of people in one country share a landline they give instead of their mobile
    for a in range(0, len(people) - 1, 2):
        if rng.random() < 0.03:
            p, q = people[a], people[a + 1]
            if q.country != p.country:
                q.country, q.city = p.country, p.city
                q.mobile_nsn = countries.mobile_nsn(rng, p.country)
            line = countries.landline_nsn(rng, p.country)
            p.landline_nsn = q.landline_nsn = line
            p.household = q.household = a

    real = RealWorld(seed + start_index)
    real.plant(people, lambda country: COUNTRIES[country][3], countries.mobile_nsn, lambda p: int(p.key[1:]))

    seq = {"crm": 0, "cust": 0, "ord": 0, "evt": 0, "tkt": 0, "anon": 0}

    def next_id(kind: str, prefix: str) -> str:
        seq[kind] += 1
        return f"{prefix}{start_index:x}-{seq[kind]}" if start_index else f"{prefix}{seq[kind]}"

    def phone_for(p: Person, intl_only: bool = False, mobile: str | None = None) -> tuple[str, str | None]:
        if mx.chance(0.01):
            return rng.choice(PLACEHOLDER_PHONES), None
        nsn = p.landline_nsn if (p.landline_nsn and rng.random() < 0.8) else (mobile or p.mobile_nsn)
        text, _ = format_phone(rng, p.country, nsn, intl_only)
        return text, f"+{COUNTRIES[p.country][0]}{nsn}"

    def add_truth(source: str, rid: str, p: Person, keys: list[str]) -> None:
        truth.append([source, rid, p.key, "|".join(sorted(set(k for k in keys if k)))])

    def country_text(p: Person) -> str:
        return rng.choice(COUNTRIES[p.country][4])

    for p in people:
        born = rng.uniform(0, SPAN_DAYS - 30)
        cc = COUNTRIES[p.country][0]
        currency = COUNTRIES[p.country][2]
        person_emails = list(p.emails)

        # --- CRM contacts (with re-delivered versions and the odd duplicate contact) ---
        if rng.random() < 0.5:
            for _ in range(2 if rng.random() < 0.03 else 1):
                cid = next_id("crm", "C")
                email_raw, email_key = mx.email(real.crm_email(p, rng.choice(person_emails)))
                phone_raw, phone_key = phone_for(p) if rng.random() < 0.8 else ("", None)
                first, last = real.name(p)
                created = _ts(rng, born, born + 20)
                versions = 2 if rng.random() < 0.15 else 1
                for v in range(versions):
                    updated = created + timedelta(days=v * rng.uniform(1, 60))
                    rows["crm_contacts"].append([
                        cid if not mx.chance(0.004) else "", email_raw, phone_raw, first,
                        last if rng.random() > 0.03 else "", p.company if rng.random() < 0.7 else "",
                        p.title if rng.random() < 0.6 else "", p.city, country_text(p),
                        LIFECYCLE[min(v + rng.randint(0, 3), 5)] if not mx.chance(0.003) else "Lead?!",
                        mx.ts(created), mx.ts(updated),
                    ])
                add_truth("crm_contacts", cid, p, [f"email:{email_key}" if email_key else "",
                                                   f"phone:{phone_key}" if phone_key else "", f"crm:{cid}"])

        # --- shop customers, their orders, guest orders ---
        customer_id = None
        if rng.random() < 0.6:
            customer_id = next_id("cust", "S")
            mailbox = shared_mailbox_left > 0 and rng.random() < 0.01
            if mailbox:
                shared_mailbox_left -= 1
            email_now = SHARED_MAILBOX if mailbox else person_emails[0]
            old_email = person_emails[-1]
            created = _ts(rng, born, born + 30)
            phone_raw, phone_key = phone_for(p, mobile=real.shop_mobile(p))
            first, last = real.name(p)
            versions = [old_email, email_now] if (rng.random() < 0.1 and not mailbox) else [email_now]
            email_key = None
            for v, em in enumerate(versions):
                email_raw, email_key = mx.email(em)
                rows["shop_customers"].append([
                    customer_id if not mx.chance(0.002) else "", email_raw, phone_raw, first, last, p.city,
                    country_text(p), rng.choice(("true", "false", "TRUE", "False", "")),
                    mx.ts(created), mx.ts(created + timedelta(days=v * rng.uniform(1, 90))),
                ])
            add_truth("shop_customers", customer_id, p, [
                f"email:{email_key}" if email_key else "", f"phone:{phone_key}" if phone_key else "",
                f"cust:{customer_id}"])
            if rng.random() < PLANTED_BUYER_SHARE:
                for when, amount, status in _planted_orders(rng, created + timedelta(days=rng.uniform(0, 30)),
                                                            currency):
                    oid = next_id("ord", "O")
                    em = email_now if rng.random() < 0.8 else old_email
                    email_raw, ekey = mx.email(em) if rng.random() < 0.9 else ("", None)
                    rows["shop_orders"].append([
                        oid if not mx.chance(0.002) else "", customer_id, email_raw,
                        status if not mx.chance(0.003) else "pending??", currency,
                        amount if not mx.chance(0.003) else rng.choice(BAD_AMOUNTS), mx.ts(when),
                    ])
                    add_truth("shop_orders", oid, p, [f"email:{ekey}" if ekey else "", f"cust:{customer_id}"])
        elif rng.random() < 0.15:
            for when, amount, status in _planted_orders(rng, _ts(rng, born, SPAN_DAYS), currency):
                oid = next_id("ord", "O")
                email_raw, ekey = mx.email(person_emails[0])
                rows["shop_orders"].append([oid, "", email_raw, status, currency, amount, mx.ts(when)])
                add_truth("shop_orders", oid, p, [f"email:{ekey}" if ekey else ""])

        # --- web events: anonymous browsing, then identify ---
        if rng.random() < 0.6:
            seq["anon"] += 1
            anon = f"a{start_index:x}-{seq['anon']:x}{rng.getrandbits(24):06x}"
            for _ in range(rng.randint(1, 6)):
                eid = next_id("evt", "E")
                etype = rng.choices(("page", "track", "identify"), (60, 25, 15))[0]
                user_id = customer_id if (customer_id and etype != "page" and rng.random() < 0.7) else ""
                email_raw, ekey = ("", None)
                if etype == "identify" or (etype == "track" and rng.random() < 0.2):
                    email_raw, ekey = mx.email(person_emails[0])
                name = {"page": "Page Viewed", "track": rng.choice(("Product Viewed", "Added to Cart",
                                                                    "Form Submitted")),
                        "identify": "Identify"}[etype]
                occurred = _ts(rng, born, SPAN_DAYS)
                rows["web_events"].append([
                    eid if not mx.chance(0.002) else "", anon if rng.random() > 0.01 else "", user_id, email_raw,
                    etype, name, f"https://shop.example.org/{rng.choice(('', 'p/1', 'p/2', 'cart', 'help'))}",
                    mx.ts(occurred),
                ])
                add_truth("web_events", eid, p, [f"anon:{anon}", f"cust:{user_id}" if user_id else "",
                                                  f"email:{ekey}" if ekey else ""])

        # --- support tickets ---
        if rng.random() < 0.2:
            for _ in range(rng.randint(1, 3)):
                tid = next_id("tkt", "T")
                email_raw, ekey = (mx.email(real.ticket_email(p, rng.choice(person_emails))) if rng.random() < 0.9
                                   else ("", None))
                first, last = real.name(p)
                if rng.random() < 0.5:
                    phone_raw, e164 = phone_for(p, intl_only=rng.random() < 0.7)
                    # without a country column only international formats are recoverable
                    pkey = e164 if (e164 and phone_raw.startswith(("+", "00"))) else None
                else:
                    phone_raw, pkey = "", None
                created = _ts(rng, born, SPAN_DAYS)
                solved = rng.random() < 0.75
                rows["support_tickets"].append([
                    tid if not mx.chance(0.002) else "", email_raw, phone_raw, f"{first} {last}",
                    rng.choice(("Where is my order?", "Refund request", "Login problem", "Billing question")),
                    rng.choice(("email", "chat", "phone", "web")), "solved" if solved else rng.choice(("open", "pending")),
                    rng.choice(("low", "normal", "high", "urgent")), mx.ts(created),
                    mx.ts(created + timedelta(hours=rng.uniform(1, 96))) if solved else "",
                    str(rng.randint(1, 5)) if (solved and rng.random() < 0.5) else "",
                ])
                add_truth("support_tickets", tid, p, [f"email:{ekey}" if ekey else "",
                                                       f"phone:{pkey}" if pkey else ""])

        # --- consent events ---
        if rng.random() < 0.4:
            t = _ts(rng, born, SPAN_DAYS - 5)
            for _ in range(rng.randint(1, 3)):
                t += timedelta(days=rng.uniform(0.5, 60))
                email_raw, _ = mx.email(rng.choice(person_emails))
                rows["email_consents"].append([
                    email_raw, rng.choices(("subscribed", "unsubscribed"), (70, 30))[0],
                    rng.choice(("newsletter_form", "checkout", "preference_center", "import")), mx.ts(t),
                ])
        del cc

    # byte-for-byte re-deliveries: 1% of the rows of each file appear twice
    counts: dict[str, int] = {}
    for name, data in rows.items():
        dups = [r for r in data if rng.random() < 0.01 * mess]
        data.extend(dups)
        rng.shuffle(data)
        _write_csv(out / f"{name}.csv", RAW_FILES[name], data)
        counts[name] = len(data)
    _write_csv(out / "ground_truth.csv", GROUND_TRUTH_COLUMNS, truth)
    return counts


def _write_csv(path: Path, header: list[str], data: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(data)


def append_day(raw: Path, seed: int, fraction: float = 0.01, *, start_index: int) -> dict[str, int]:
    """Append "a day of new data" to a raw folder, as a source export that only grows would: about
    `fraction` of the records new or changed. Half of it comes from new persons (numbered from
    `start_index`), the other half changes existing people: new versions of CRM contacts and shop
    accounts (another city or job title, a later updated_at), new orders by existing shop customers,
    and byte-for-byte re-deliveries of rows already loaded. Returns the rows appended per file."""
    rng = random.Random(seed)
    existing = {}
    for name, columns in RAW_FILES.items():
        header, existing[name] = _read_csv(raw / f"{name}.csv")
        if header != columns:
            raise ValueError(f"{raw / name}.csv: append_day needs the generator's column order {columns}")
    total = sum(len(rows) for rows in existing.values())
    persons = max(1, len(existing["crm_contacts"]))
    new_persons = max(1, round(persons * fraction / 2))
    with tempfile.TemporaryDirectory() as tmp:
        counts = generate(new_persons, seed, Path(tmp), start_index=start_index)
        for name in RAW_FILES:
            _append_rows(raw / f"{name}.csv", _read_csv(Path(tmp) / f"{name}.csv")[1])
        _append_rows(raw / "ground_truth.csv", _read_csv(Path(tmp) / "ground_truth.csv")[1])

    changes = max(4, round(total * fraction / 2))
    later = (EPOCH + timedelta(days=SPAN_DAYS + 1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    appended: dict[str, list[list[str]]] = {name: [] for name in RAW_FILES}
    customers = [r for r in existing["shop_customers"] if r[0].strip()]
    for i in range(changes):
        kind = rng.random()
        if kind < 0.3 and existing["crm_contacts"]:
            row = list(rng.choice(existing["crm_contacts"]))
            row[RAW_FILES["crm_contacts"].index("job_title")] = rng.choice(TITLES)
            row[RAW_FILES["crm_contacts"].index("updated_at")] = later
            appended["crm_contacts"].append(row)
        elif kind < 0.5 and customers:
            row = list(rng.choice(customers))
            country = row[RAW_FILES["shop_customers"].index("country")].strip().upper()
            if country in COUNTRIES:
                row[RAW_FILES["shop_customers"].index("city")] = rng.choice(COUNTRIES[country][3])
            row[RAW_FILES["shop_customers"].index("updated_at")] = later
            appended["shop_customers"].append(row)
        elif kind < 0.9 and customers:
            customer = rng.choice(customers)
            cols = RAW_FILES["shop_customers"]
            appended["shop_orders"].append([
                f"ODAY{seed:x}-{i}", customer[cols.index("customer_id")], customer[cols.index("email")],
                rng.choice(("paid", "shipped", "placed")), "USD", f"{rng.uniform(5, 400):.2f}", later])
        else:
            name = rng.choice(list(RAW_FILES))
            if existing[name]:
                appended[name].append(list(rng.choice(existing[name])))
    for name, rows in appended.items():
        _append_rows(raw / f"{name}.csv", rows)
        counts[name] = counts.get(name, 0) + len(rows)
    return counts


def _read_csv(path: Path) -> tuple[list[str] | None, list[list[str]]]:
    """The header and the data rows of a CSV file."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        return next(reader, None), list(reader)


def _append_rows(path: Path, rows: list[list[str]]) -> None:
    with path.open("a", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
