"""Regenerate ``examples/``: the example company (``revsim export``) and the vendor samples
with their canonical twins (``examples/mappings``).

    PYTHONPATH=$PWD python scripts/make_examples.py

The vendor files are the example company's records written in each vendor's own layout
(Salesforce opportunity report, HubSpot deals export, Stripe subscriptions export); the twin
is the same records in the canonical format, written independently of the mapping files, so
that ``tests/calibrate/test_mappings.py`` checks the mappings against them.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from sim.outputs.atomic import MARKER

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"
SEED = 7
SAMPLE_MONTHS = 6  # opportunities created in the first months
SAMPLE_CUSTOMERS = 300
TRIALS = 5  # Stripe subscriptions still in their trial: in the export, not ARR (dropped)
SF_FOOTER = ["", "Grand Totals ({n} records)", "Confidential Information - Do Not Distribute",
             "Copyright (c) 2000-2024 salesforce.com, inc. All rights reserved."]

SF_CHANNEL = {"inbound": "Web", "outbound": "Outbound Prospecting", "partner": "Partner Referral"}
SF_LOST = {"price": "Price", "competition": "Lost to Competitor", "no_capacity": "No Capacity"}
SF_OPEN = ["Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote",
           "Negotiation/Review"]
EMPLOYEES = {"smb": (10, 199), "mid_market": (200, 1999), "enterprise": (2000, 50000)}
# HubSpot's common source values; "Other" and a blank source reach the mapping's catch-alls
HS_CHANNEL = {"inbound": ["Organic Search", "Paid Search", "Direct Traffic", "Organic Social",
                          "Email Marketing", "Other", ""],
              "outbound": ["Offline Sources"], "partner": ["Referrals"]}
HS_LOST = {"price": "Price too high", "competition": "Went with competitor",
           "no_capacity": "No Capacity"}
HS_OPEN = ["Appointment Scheduled", "Qualified To Buy", "Presentation Scheduled",
           "Decision Maker Bought-In", "Contract Sent"]
HS_SEGMENT = {"smb": "Small Business", "mid_market": "Mid-Market", "enterprise": "Enterprise"}
STRIPE_SEGMENT = {"smb": "SMB", "mid_market": "Mid-Market", "enterprise": "Enterprise"}


def export_company() -> Path:
    """``revsim export`` into a fresh folder, then its files (not its ``.revsim-output``
    manifest) into ``examples/company``: no manifest is ever committed, so a copy of the
    example folder is never a folder revsim may replace."""
    out = EX / "company"
    revsim = shutil.which("revsim") or str(Path(sys.executable).parent / "revsim")
    with tempfile.TemporaryDirectory(prefix="revsim-examples-") as tmp:
        fresh = Path(tmp) / "company"
        subprocess.run([revsim, "export", "examples/example_company.yaml", "--seed", str(SEED),
                        "--out", str(fresh)], check=True, cwd=ROOT)
        out.mkdir(exist_ok=True)
        for f in sorted(fresh.iterdir()):
            if f.name != MARKER:
                shutil.copyfile(f, out / f.name)
    return out


def opportunity_sample(company: Path) -> pd.DataFrame:
    o = pd.read_csv(company / "opportunities.csv", dtype=str, keep_default_na=False)
    first = pd.Timestamp(o["created_date"].min())
    cut = (first + pd.DateOffset(months=SAMPLE_MONTHS)).date().isoformat()
    return o[o["created_date"] < cut].reset_index(drop=True)


def _date(iso: str, fmt: str, rng: random.Random) -> str:
    if not iso:
        return ""
    t = pd.Timestamp(iso) + pd.Timedelta(minutes=rng.randrange(8 * 60, 18 * 60))
    return t.strftime(fmt)


def salesforce(o: pd.DataFrame, rng: random.Random):
    vendor, twin = [], []
    for i, r in o.iterrows():
        oid, aid = f"0065g000{i:07d}", (f"0015g000{int(r.account_id[1:]):07d}"
                                         if r.account_id else "")
        expected = (pd.Timestamp(r.created_date) + pd.Timedelta(days=45)).date().isoformat()
        stage = {"won": "Closed Won", "lost": "Closed Lost"}.get(r.outcome) or rng.choice(SF_OPEN)
        vendor.append({
            "Opportunity Owner": rng.choice(["Dana Reyes", "Sam Okafor", "Lee Park"]),
            "Opportunity Name": f"Deal {i + 1}", "Opportunity ID": oid, "Account ID": aid,
            "Stage": stage, "Amount": r.amount_usd,
            "Created Date": _date(r.created_date, "%m/%d/%Y", rng),
            "Close Date": _date(r.closed_date or expected, "%m/%d/%Y", rng),
            "Lead Source": SF_CHANNEL[r.channel],
            "Loss Reason": SF_LOST.get(r.lost_reason, ""), "Quantity": r.seats,
            "Employees": rng.randint(*EMPLOYEES[r.segment]), "Fiscal Period": "Q1-2023"})
        twin.append({"opportunity_id": oid, "account_id": aid, "segment": r.segment,
                     "channel": r.channel, "created_date": r.created_date,
                     "closed_date": r.closed_date, "outcome": r.outcome,
                     "amount_usd": r.amount_usd, "seats": r.seats, "lost_reason": r.lost_reason})
    return pd.DataFrame(vendor), pd.DataFrame(twin)


def hubspot(o: pd.DataFrame, rng: random.Random):
    vendor, twin = [], []
    for i, r in o.iterrows():
        rid = str(9_800_000_000 + i)
        cid = str(4_100_000_000 + int(r.account_id[1:])) if r.account_id else ""
        stage = {"won": "Closed Won", "lost": "Closed Lost"}.get(r.outcome) or rng.choice(HS_OPEN)
        vendor.append({
            "Record ID": rid, "Deal Name": f"Deal {i + 1}", "Deal Stage": stage,
            "Pipeline": "Sales Pipeline", "Amount": r.amount_usd,
            "Create Date": _date(r.created_date, "%Y-%m-%d %H:%M", rng),
            "Close Date": _date(r.closed_date, "%Y-%m-%d %H:%M", rng),
            "Original Source": rng.choice(HS_CHANNEL[r.channel]),
            "Closed Lost Reason": HS_LOST.get(r.lost_reason, ""), "Number of Seats": r.seats,
            "Customer Segment": HS_SEGMENT[r.segment], "Associated Company IDs": cid,
            "Deal owner": rng.choice(["Dana Reyes", "Sam Okafor"])})
        twin.append({"opportunity_id": rid, "account_id": cid, "segment": r.segment,
                     "channel": r.channel, "created_date": r.created_date,
                     "closed_date": r.closed_date, "outcome": r.outcome,
                     "amount_usd": r.amount_usd, "seats": r.seats, "lost_reason": r.lost_reason})
    return pd.DataFrame(vendor), pd.DataFrame(twin)


def stripe(company: Path, rng: random.Random):
    s = pd.read_csv(company / "subscriptions.csv", dtype=str, keep_default_na=False)
    every = list(dict.fromkeys(s["customer_id"]))
    customers = sorted(rng.sample(every, SAMPLE_CUSTOMERS), key=every.index)
    vendor, twin = [], []
    for i in range(TRIALS):  # trials: the vendor's rows only (the mapping drops them)
        start = f"2024-12-{20 + i:02d}"
        vendor.append({
            "id": f"sub_T{i:06d}", "Customer ID": f"cus_T{i:06d}", "Customer Email": "",
            "Plan": "Team monthly", "Product": "Team", "Quantity": 3, "Interval": "month",
            "Interval Count": 1, "Amount": 50.0, "Currency": "usd", "Status": "trialing",
            "Created (UTC)": _date(start, "%Y-%m-%d %H:%M", rng),
            "Start Date (UTC)": _date(start, "%Y-%m-%d %H:%M", rng), "Ended At (UTC)": "",
            "segment (metadata)": "SMB"})
    for cid in customers:
        rows = s[s["customer_id"] == cid]
        first, last = rows.iloc[0], rows.iloc[-1]
        monthly = first.term_months == "1"
        per_year = 12 if monthly else 1
        qty = max(1, round(float(last.seats)))
        amount = round(float(last.arr_usd) / per_year / qty, 2)
        arr = round(amount * qty * per_year, 6)
        ended = last.end_date
        vendor.append({
            "id": f"sub_{cid}", "Customer ID": f"cus_{cid}", "Customer Email": "",
            "Plan": "Team monthly" if monthly else "Team annual", "Product": "Team",
            "Quantity": qty, "Interval": "month" if monthly else "year", "Interval Count": 1,
            "Amount": amount,
            "Currency": "usd", "Status": "canceled" if ended else "active",
            "Created (UTC)": _date(first.start_date, "%Y-%m-%d %H:%M", rng),
            "Start Date (UTC)": _date(first.start_date, "%Y-%m-%d %H:%M", rng),
            "Ended At (UTC)": _date(ended, "%Y-%m-%d %H:%M", rng),
            "segment (metadata)": STRIPE_SEGMENT[first.segment]})
        twin.append({"customer_id": f"cus_{cid}", "segment": first.segment,
                     "start_date": first.start_date, "end_date": ended,
                     "term_months": 1 if monthly else 12,
                     "billing": "monthly" if monthly else "annual", "arr_usd": arr,
                     "seats": qty})
    return pd.DataFrame(vendor), pd.DataFrame(twin)


def main() -> None:
    company = export_company()
    rng = random.Random(SEED)
    o = opportunity_sample(company)
    m = EX / "mappings"
    for name, (vendor, twin) in {"salesforce_opportunities": salesforce(o, rng),
                                 "hubspot_deals": hubspot(o, rng),
                                 "stripe_subscriptions": stripe(company, rng)}.items():
        vendor.to_csv(m / f"{name}.csv", index=False, lineterminator="\n")
        if name.startswith("salesforce"):  # a report export ends with its footer lines
            with (m / f"{name}.csv").open("a", encoding="utf-8", newline="\n") as fh:
                for line in SF_FOOTER:
                    fh.write(f'"{line.format(n=len(vendor))}"\n' if line else "\n")
        twin.to_csv(m / f"{name}.canonical.csv", index=False, lineterminator="\n")
        print(f"wrote {m / name}.csv and its canonical twin")


if __name__ == "__main__":
    main()
