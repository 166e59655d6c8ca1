from pathlib import Path

from datagen.evaluation import ideal_clusters
from datagen.sample_data import RAW_FILES, generate
from tests.conftest import read_csv_rows


def test_generator_is_deterministic_and_follows_the_contract(tmp_path: Path):
    a = generate(300, 5, tmp_path / "a")
    b = generate(300, 5, tmp_path / "b")
    assert a == b
    for name, columns in RAW_FILES.items():
        text_a = (tmp_path / "a" / f"{name}.csv").read_text(encoding="utf-8")
        assert text_a == (tmp_path / "b" / f"{name}.csv").read_text(encoding="utf-8")
        assert text_a.splitlines()[0] == ",".join(columns)
    assert generate(300, 6, tmp_path / "c") != a


def test_generator_contains_the_contract_mess(tmp_path: Path):
    generate(3000, 1, tmp_path)
    crm = read_csv_rows(tmp_path / "crm_contacts.csv")
    emails = [r["email"] for r in crm]
    assert any(e != e.strip() for e in emails), "padded emails"
    assert any(e.strip() != e.strip().lower() and "@" in e for e in emails), "mixed case"
    assert any(e in ("test@test.com", "noreply@example.com", "n/a", "unknown") for e in emails), "placeholders"
    phones = {r["phone"] for r in crm}
    assert any(p.startswith("+") for p in phones) and any(p.startswith("0") for p in phones)
    assert any(p in ("0000000000", "unknown") for p in phones)
    lines = (tmp_path / "web_events.csv").read_text().splitlines()[1:]
    assert len(lines) > len(set(lines)), "byte-for-byte duplicates"
    orders = read_csv_rows(tmp_path / "shop_orders.csv")
    assert any(o["customer_id"] == "" for o in orders), "guest checkouts"
    assert any(o["status"] not in ("placed", "paid", "shipped", "refunded", "cancelled") for o in orders)
    ids = [r["contact_id"] for r in crm]
    assert len(ids) > len(set(ids)), "re-delivered contact versions"


def test_ideal_clusters_join_records_of_one_person_through_shared_keys():
    truth = [
        {"source_name": "a", "source_record_id": "1", "person_key": "P1", "link_keys": "email:x"},
        {"source_name": "b", "source_record_id": "2", "person_key": "P1", "link_keys": "email:x|phone:+1"},
        {"source_name": "c", "source_record_id": "3", "person_key": "P1", "link_keys": "phone:+1"},
        {"source_name": "d", "source_record_id": "4", "person_key": "P1", "link_keys": ""},
        {"source_name": "e", "source_record_id": "5", "person_key": "P2", "link_keys": "phone:+1"},
    ]
    c = ideal_clusters(truth)
    assert c[("a", "1")] == c[("b", "2")] == c[("c", "3")]
    assert c[("d", "4")] != c[("a", "1")], "a record without keys cannot be joined"
    assert c[("e", "5")] != c[("c", "3")], "a shared key never joins two people in the ideal"
