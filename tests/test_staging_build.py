"""End to end on generated data: every raw row is staged, superseded, a duplicate, or quarantined with a
reason; identifiers are normalised; the phone normaliser agrees with libphonenumber."""

from __future__ import annotations

import csv
import json
from collections import Counter

import phonenumbers
import pytest

from datagen.sample_data import RAW_FILES
from tests.conftest import Warehouse, read_csv_rows

KEYS = {
    "crm_contacts": ("contact_id", "stg_crm__contacts", "crm_contact_id"),
    "shop_customers": ("customer_id", "stg_shop__customers", "shop_customer_id"),
    "shop_orders": ("order_id", "stg_shop__orders", "shop_order_id"),
    "web_events": ("event_id", "stg_web__events", "web_event_id"),
    "support_tickets": ("ticket_id", "stg_support__tickets", "support_ticket_id"),
}


def test_row_counts_match_the_raw_files(small_warehouse: Warehouse):
    counts = {r[0]: r[1:] for r in small_warehouse.sql(
        "select source_name, rows_loaded, rows_staged, rows_superseded, rows_duplicate, rows_quarantined "
        "from source_row_counts")}
    assert set(counts) == set(RAW_FILES)
    for name in RAW_FILES:
        raw_rows = len(read_csv_rows(small_warehouse.raw_dir / f"{name}.csv"))
        loaded, staged, superseded, duplicate, quarantined = counts[name]
        assert loaded == raw_rows, name
        assert loaded == staged + superseded + duplicate + quarantined, name
        assert staged + superseded > 0.9 * raw_rows, name
        assert quarantined > 0, f"the generator plants bad rows in {name}"


@pytest.mark.parametrize("source", sorted(KEYS))
def test_no_raw_row_is_lost(small_warehouse: Warehouse, source: str):
    """Each raw row's record is in staging, or the row itself is in quarantine with a reason."""
    raw_key, model, key = KEYS[source]
    staged = {r[0] for r in small_warehouse.sql(f"select {key} from {model}")}
    quarantined = Counter(
        json.dumps(json.loads(r[0]), sort_keys=True)
        for r in small_warehouse.sql("select raw_row from quarantine where source_name = ?", [source]))
    lost = []
    for row in read_csv_rows(small_warehouse.raw_dir / f"{source}.csv"):
        if row[raw_key].strip() in staged:
            continue
        as_json = json.dumps({k: (v if v != "" else None) for k, v in row.items()}, sort_keys=True)
        if quarantined[as_json] == 0:
            lost.append(row)
    assert not lost, lost[:3]


def test_quarantine_reasons_cover_the_planted_mess(small_warehouse: Warehouse):
    reasons = {(s, r) for s, r in small_warehouse.sql("select distinct source_name, quarantine_reason from quarantine")}
    for expected in [("shop_orders", "unknown_status"), ("shop_orders", "unparseable_total_amount"),
                     ("shop_orders", "missing_key"), ("web_events", "unparseable_occurred_at"),
                     ("crm_contacts", "missing_key")]:
        assert expected in reasons
    assert small_warehouse.scalar("select count(*) from quarantine where quarantine_reason is null") == 0


def test_identifiers_are_normalised(small_warehouse: Warehouse):
    emails = [r[0] for r in small_warehouse.sql("select email from stg_crm__contacts where email is not null")]
    assert emails and all(e == e.strip().lower() and "@" in e for e in emails)
    assert small_warehouse.scalar(
        "select count(*) from stg_shop__customers where email in ('test@test.com', 'noreply@example.com')") == 0
    phones = [r[0] for r in small_warehouse.sql("select phone from stg_shop__customers where phone is not null")]
    assert phones and all(p.startswith("+") and p[1:].isdigit() for p in phones)
    placeholders = small_warehouse.scalar(
        "select sum(emails_placeholder + phones_placeholder) from source_row_counts")
    assert placeholders > 0


def test_phone_normalisation_agrees_with_libphonenumber(small_warehouse: Warehouse):
    rows = small_warehouse.sql("""
        select json_extract_string(_raw_row, '$.phone'), country, phone, phone_quality
        from base_crm__contacts where country is not null
        union all
        select json_extract_string(_raw_row, '$.phone'), country, phone, phone_quality
        from base_shop__customers where country is not null
    """)
    compared = agree = 0
    disagreements = []
    for raw, country, ours, _quality in rows:
        if not raw:
            continue
        try:
            parsed = phonenumbers.parse(raw, country)
        except phonenumbers.NumberParseException:
            continue
        if not phonenumbers.is_valid_number(parsed):
            continue
        compared += 1
        expected = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        if ours == expected:
            agree += 1
        else:
            disagreements.append((raw, country, ours, expected))
    assert compared >= 2000, compared
    assert agree / compared >= 0.995, disagreements[:10]
    print(f"\nphone normalisation vs libphonenumber: {agree}/{compared} agree")


def test_timestamps_of_every_contract_form_are_parsed(small_warehouse: Warehouse):
    rows = small_warehouse.sql("""
        select json_extract_string(_raw_row, '$.ordered_at') as raw, ordered_at
        from base_shop__orders where _quarantine_reason is null
    """)
    forms = Counter(("T" in raw and raw.endswith("Z"), " " in raw, len(raw) == 10) for raw, _ in rows)
    assert len(forms) == 3, forms
    assert all(parsed is not None for _, parsed in rows)


def test_a_raw_folder_from_another_generator_builds(tmp_path):
    """Columns in another order, quoted commas and newlines, blanks, a short row, odd formats."""
    from tests.conftest import build_warehouse

    raw = tmp_path / "raw"
    raw.mkdir()

    def write(name, header, rows):
        with (raw / f"{name}.csv").open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows)

    write("crm_contacts", list(reversed(RAW_FILES["crm_contacts"])), [
        list(reversed(["c-1", "ANN@Mail.com", "+44 7400 111222", "Ann", "Lee", "Lee, Ltd", "CEO\nand founder",
                       "London", "UK", "lead", "2026-01-01", "2026-01-02T10:00:00Z"])),
        list(reversed(["", "bob@mail.com", "", "Bob", "", "", "", "", "", "", "", "2026-01-01"])),
    ])
    write("shop_customers", RAW_FILES["shop_customers"], [
        ["s-9", " ann@mail.com ", "07400 111222", "Ann", "Lee", "London", "gb", "TRUE", "2026-01-01", "2026-01-01"],
    ])
    write("shop_orders", RAW_FILES["shop_orders"], [
        ["o-1", "s-9", "", "PAID", "gbp", "10.50", "2026-02-01 09:00:00"],
        ["o-2", "", "guest@mail.com", "shipped", "EUR", "1e2", "2026-02-02"],
        ["o-3", "s-9", "", "paid", "XXX", "5", "2026-02-03"],
        ["o-4", "s-9"],
    ])
    write("web_events", RAW_FILES["web_events"], [])
    write("support_tickets", RAW_FILES["support_tickets"], [
        ["t-1", "ann@mail.com", "", "Ann Lee", "Hi", "email", "open", "low", "2026-03-01", "", "7"],
    ])
    write("email_consents", RAW_FILES["email_consents"], [["ann@mail.com", "unsubscribed", "form", "2026-03-01"]])

    wh = build_warehouse(raw, tmp_path / "w.duckdb")
    assert wh.sql("select crm_contact_id, company, job_title from stg_crm__contacts") == [
        ("c-1", "Lee, Ltd", "CEO\nand founder")]
    reasons = dict(wh.sql("select source_record_id, quarantine_reason from quarantine where source_name='shop_orders'"))
    assert reasons == {"o-3": "unknown_currency", "o-4": "unknown_status"}
    assert wh.sql("select quarantine_reason from quarantine where source_name='support_tickets'") == [
        ("invalid_satisfaction_score",)]
    assert wh.scalar("select count(*) from quarantine where source_name = 'crm_contacts'") == 1
    # Ann's CRM contact, shop account and paid order resolve to one person
    assert wh.scalar("select count(distinct person_id) from person_records "
                     "where source_record_id in ('c-1', 's-9', 'o-1')") == 1
    [(orders, ltv, consent)] = wh.sql(
        "select order_count, lifetime_value, email_consent from customer_profiles where email = 'ann@mail.com'")
    assert (orders, consent) == (1, "unsubscribed")
    assert float(ltv) == pytest.approx(10.50 * 1.27, abs=0.01)  # GBP to the USD reporting currency
