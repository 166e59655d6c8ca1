"""Reviewers' identity decisions end to end: rows of identity_decisions.csv go through real dbt builds with the
probabilistic tier on, change persons (a merge joins two, a keep_apart splits what the tier joined), hold on the
next rebuild, and reach the CRM sandbox over loopback the way any identity change does: HubSpot merges the
retired contact into the survivor, Salesforce deletes the retired Contact, the split-off person gets its own."""

from __future__ import annotations

import requests

from sync.config import load_syncs
from sync.destinations import make_destination
from sync.engine import run_sync
from tests.conftest import Warehouse, dbt
from tests.sync_support import by_person, sandbox_for
from tests.test_identity_tier import TIER_ON, tier_warehouse, write_decisions  # noqa: F401 (a fixture)

SYNCS = ("hubspot_contacts", "salesforce_contacts")


def person_of(wh: Warehouse, source: str, record_id: str) -> str:
    return wh.sql("select person_id from person_records where source_name = ? and source_record_id = ?",
                  [source, record_id])[0][0]


def sync_all(wh: Warehouse) -> dict[str, object]:
    summaries = {name: run_sync(load_syncs()[name], wh.db_path, make_destination) for name in SYNCS}
    assert all(s.status == "success" for s in summaries.values()), summaries
    return summaries


def salesforce_people(url: str) -> set[str]:
    return set(requests.get(f"{url}/_sandbox/salesforce", timeout=10).json()["records"])


def synced_persons(wh: Warehouse) -> set[str]:
    return {p for (p,) in wh.sql("select hs.person_id from sync_hubspot__contacts as hs inner join "
                                 "sync_salesforce__contacts as sf on sf.person_id = hs.person_id")}


def merge_pair(wh: Warehouse) -> tuple[str, str]:
    """Two CRM contacts of two different persons that both CRMs hold (the reviewer says: one person)."""
    a, b = wh.sql("""
        select min(records.source_record_id)
        from person_records as records
        inner join sync_hubspot__contacts as hs on hs.person_id = records.person_id
        inner join sync_salesforce__contacts as sf on sf.person_id = records.person_id
        where records.source_name = 'crm_contacts'
        group by records.person_id
        order by 1 limit 2""")
    return a[0], b[0]


def probabilistic_pair(wh: Warehouse) -> tuple[tuple[str, str], tuple[str, str]]:
    """Two records the tier joined (no shared identifier), with different emails, whose person both CRMs hold
    (the reviewer says: two people)."""
    rows = wh.sql("""
        select records_a.source_name, records_a.source_record_id, records_b.source_name, records_b.source_record_id
        from int_identity_cluster_edges as edges
        inner join int_identity_match_records as records_a on records_a.record_key = edges.record_key_a
        inner join int_identity_match_records as records_b on records_b.record_key = edges.record_key_b
        inner join person_records as person_a
            on person_a.source_name = records_a.source_name and person_a.source_record_id = records_a.source_record_id
        inner join sync_hubspot__contacts as hs on hs.person_id = person_a.person_id
        inner join sync_salesforce__contacts as sf on sf.person_id = person_a.person_id
        where edges.edge_kind = 'probabilistic_match'
            and records_a.email is not null and records_b.email is not null and records_a.email <> records_b.email
            and records_a.last_name is not null and records_b.last_name is not null
        order by edges.match_probability desc, 2, 4 limit 1""")
    assert rows, "the tier joined no pair of records with two emails"
    sa, ra, sb, rb = rows[0]
    return (sa, ra), (sb, rb)


def test_review_decisions_round_trip_to_the_crm_sandbox(tier_warehouse: Warehouse, monkeypatch):  # noqa: F811
    wh = tier_warehouse
    with sandbox_for(monkeypatch) as sandbox:
        sync_all(wh)
        hubspot_before = {p: c[0]["id"] for p, c in by_person(sandbox.url).items()}
        a, b = merge_pair(wh)
        (src_x, rec_x), (src_y, rec_y) = probabilistic_pair(wh)
        joined = person_of(wh, src_x, rec_x)
        assert joined == person_of(wh, src_y, rec_y)
        persons_ab = {person_of(wh, "crm_contacts", a), person_of(wh, "crm_contacts", b)}
        assert len(persons_ab) == 2 and persons_ab <= synced_persons(wh)
        write_decisions(wh.raw_dir, [
            ["crm_contacts", a, "crm_contacts", b, "merge", "reviewer@example.org", "2026-01-02T10:00:00Z"],
            [src_x, rec_x, src_y, rec_y, "keep_apart", "reviewer@example.org", "2026-01-02T10:05:00Z"],
        ])

        dbt(wh.raw_dir, wh.db_path, "build", vars=TIER_ON)
        survivor = person_of(wh, "crm_contacts", a)
        assert survivor == person_of(wh, "crm_contacts", b), "the reviewer's merge joins the two persons"
        (retired,) = persons_ab - {survivor}
        assert wh.sql("select count(*) from person_id_history where change_type = 'merge' and from_person_id = ? "
                      "and to_person_id = ?", [retired, survivor]) == [(1,)], "the merge goes through the ledger"
        split_x, split_y = person_of(wh, src_x, rec_x), person_of(wh, src_y, rec_y)
        assert split_x != split_y, "the reviewer's keep_apart splits what the tier joined"
        assert joined in (split_x, split_y), "the larger part keeps the person id"
        (split_off,) = {split_x, split_y} - {joined}

        summaries = sync_all(wh)
        assert summaries["hubspot_contacts"].merged >= 1 and summaries["salesforce_contacts"].merged >= 1
        hubspot = requests.get(f"{sandbox.url}/_sandbox/hubspot", timeout=10).json()
        assert hubspot["merged_into"].get(hubspot_before[retired]) == hubspot_before[survivor], \
            "HubSpot merges the retired person's contact into the survivor's"
        live = by_person(sandbox.url)
        assert retired not in live and len(live[survivor]) == 1
        assert live[survivor][0]["id"] == hubspot_before[survivor]
        people_sf = salesforce_people(sandbox.url)
        assert retired not in people_sf and survivor in people_sf, "Salesforce deletes the retired Contact"
        assert split_off in synced_persons(wh)
        assert split_off in live and live[split_off][0]["id"] != hubspot_before[joined], \
            "the split-off person gets a contact of its own"
        assert split_off in people_sf
        assert live[joined][0]["id"] == hubspot_before[joined], "the person that keeps its id keeps its contact"

        dbt(wh.raw_dir, wh.db_path, "build", vars=TIER_ON)  # the decisions hold on the next rebuild
        assert person_of(wh, "crm_contacts", a) == person_of(wh, "crm_contacts", b) == survivor
        assert (person_of(wh, src_x, rec_x), person_of(wh, src_y, rec_y)) == (split_x, split_y)
        again = sync_all(wh)
        assert all(s.planned == 0 for s in again.values()), "nothing changed, so nothing is sent again"
        assert retired not in by_person(sandbox.url) and retired not in salesforce_people(sandbox.url)
