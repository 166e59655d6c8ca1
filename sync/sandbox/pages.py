"""The sandbox's HTML pages: the contacts with the fields the CDP writes and the open failures, and one
contact's property history."""

from __future__ import annotations

import html

from sync.sandbox.store import Store, contact_properties

ENRICHED = ["cdp_person_id", "cdp_lifetime_value", "cdp_order_count", "cdp_email_consent", "cdp_segments",
            "cdp_churn_risk", "cdp_predicted_clv", "cdp_journey_stage", "cdp_next_best_action"]


def render_page(store: Store, limit: int = 500) -> str:
    with store.lock:
        contacts = [(k, contact_properties(k, v)) for k, v in
                    sorted(store.hs_contacts.items(), key=lambda kv: int(kv[0]))[:limit]]
        total, sf, wh = len(store.hs_contacts), len(store.sf_contacts), len(store.webhook)
        failures = sorted(store.open_failures.items())[:limit]
    cols = ["email", "firstname", "lastname", "country", "lastmodifieddate", *ENRICHED]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["HubSpot id", *cols])
    rows = "".join(
        "<tr>" + f"<td><a href='/contacts/{html.escape(k)}'>{html.escape(k)}</a></td>" +
        "".join(f"<td class='{'enriched' if c in ENRICHED else ''}'>{html.escape(v.get(c, ''))}</td>"
                for c in cols) + "</tr>" for k, v in contacts)
    fail_rows = "".join(
        f"<tr><td>{html.escape(sys_)}</td><td>{html.escape(key)}</td><td>{html.escape(f['code'])}</td>"
        f"<td>{html.escape(f['message'])}</td><td>{f['attempts']}</td><td>{html.escape(f['last'])}</td></tr>"
        for (sys_, key), f in failures)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>CRM sandbox: contacts</title>
<style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 6px}}th{{background:#eef}}td.enriched{{background:#f4fff0}}</style>
</head><body><h1>CRM sandbox</h1>
<p id="summary">{total} HubSpot contacts, {sf} Salesforce contacts, {wh} marketing webhook contacts.
Showing the first {len(contacts)} HubSpot contacts; green columns are written by the CDP sync.</p>
<table id="contacts"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>
<h2>Open failures</h2>
<p id="failures-summary">{len(failures)} records whose last write was rejected and not yet written since.</p>
<table id="failures"><thead><tr><th>system</th><th>record</th><th>code</th><th>message</th><th>attempts</th>
<th>last (UTC)</th></tr></thead><tbody>{fail_rows}</tbody></table></body></html>"""



PAGE_STYLE = """body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 6px}th{background:#eef}td.enriched{background:#f4fff0}"""


def render_contact_page(store: Store, hs_id: str) -> str | None:
    """One contact: its journey stage history as synced (value and time of each change, oldest first), then
    the history of every other CDP property."""
    with store.lock:
        contact = store.hs_contacts.get(hs_id)
        if contact is None:
            return None
        props = dict(contact["properties"])
        history = {name: list(versions) for name, versions in store.hs_history.get(hs_id, {}).items()}

    def table(table_id: str, name: str) -> str:
        rows = "".join(f"<tr><td>{html.escape(v['value'])}</td><td>{html.escape(v['timestamp'])}</td></tr>"
                       for v in history.get(name, []))
        return (f"<table id='{table_id}'><thead><tr><th>{html.escape(name)}</th><th>set at (UTC)</th></tr></thead>"
                f"<tbody>{rows}</tbody></table>")

    others = "".join(f"<h3>{html.escape(n)}</h3>{table('history-' + n, n)}"
                     for n in ENRICHED if n != "cdp_journey_stage" and history.get(n))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>CRM sandbox: contact {html.escape(hs_id)}</title>
<style>{PAGE_STYLE}</style></head><body><p><a href="/">all contacts</a></p>
<h1>Contact {html.escape(hs_id)}</h1>
<p id="contact">{html.escape(props.get('email', ''))}, CDP person {html.escape(props.get('cdp_person_id', ''))},
journey stage now <b>{html.escape(props.get('cdp_journey_stage', ''))}</b></p>
<h2>Journey stage history</h2>
<p>Each value the CDP sync wrote to cdp_journey_stage, oldest first (the contact's property history).</p>
{table('stage-history', 'cdp_journey_stage')}
<h2>Other CDP properties</h2>{others}</body></html>"""

