"""Score the UCI Bank Marketing contacts and print the hottest leads.

Run from the repository root: python examples/main_job.py
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import sys
from pathlib import Path

import leadscore

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("LEADSCORE_DATA", HERE.parent.parent / "shared" / "data"))
BANK = DATA / "uci-bank-marketing" / "bank.csv"
NUMBERS = {"age", "balance", "day", "duration", "campaign", "pdays", "previous"}


def main() -> int:
    engine = leadscore.load(HERE / "bank-marketing" / "rules.lead")
    at = dt.datetime(2010, 12, 1, tzinfo=dt.UTC)
    scored = []
    with BANK.open(newline="", encoding="ascii") as stream:
        for row_number, row in enumerate(csv.DictReader(stream, delimiter=";"), start=2):
            profile = {key: int(value) if key in NUMBERS else value for key, value in row.items()}
            card = engine.score(leadscore.Contact(f"row-{row_number}", profile), at=at)["Term deposit"]
            scored.append((card.total, card.level, row["y"], card.contact_id))

    scored.sort(key=lambda item: item[0], reverse=True)
    print(f"Scored {len(scored)} contacts from {BANK.name}. Hottest 10:")
    for total, level, outcome, contact_id in scored[:10]:
        print(f"  {contact_id:<10} {total:>4}  {level or '-':<12} subscribed: {outcome}")
    ready = [item for item in scored if item[1] == "Sales-ready"]
    converted = sum(1 for item in ready if item[2] == "yes")
    base = sum(1 for item in scored if item[2] == "yes") / len(scored)
    print(f"Sales-ready: {len(ready)} contacts, {converted / len(ready):.1%} subscribed (base rate {base:.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
