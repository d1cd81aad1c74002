"""Aggregate the cleaned orders into revenue per day and per customer."""

import csv
import os
from collections import defaultdict
from pathlib import Path

from dagster_pipes import open_dagster_pipes

# Written by sales/orders, maybe on another machine: both use the platform's data location.
SALES = Path(os.environ.get("NOPE_DATA_LOCATION", "data")) / "sales"
ORDERS = SALES / "orders.csv"
DAILY = SALES / "daily_revenue.csv"
CUSTOMERS = SALES / "customer_revenue.csv"


def write_totals(path: Path, header: list[str], totals: dict[str, float]) -> None:
    with path.open("w", newline="") as output:
        writer = csv.writer(output)
        writer.writerow(header)
        for key in sorted(totals):
            writer.writerow([key, f"{totals[key]:.2f}"])


def main(pipes) -> None:
    by_day: dict[str, float] = defaultdict(float)
    by_customer: dict[str, float] = defaultdict(float)
    with ORDERS.open(newline="") as source:
        for row in csv.DictReader(source):
            by_day[row["order_date"]] += float(row["amount"])
            by_customer[row["customer"]] += float(row["amount"])
    write_totals(DAILY, ["order_date", "revenue"], by_day)
    write_totals(CUSTOMERS, ["customer", "revenue"], by_customer)
    pipes.report_asset_materialization(
        asset_key="sales/daily_revenue",
        metadata={"days": len(by_day), "total_revenue": round(sum(by_day.values()), 2), "path": str(DAILY)},
    )
    pipes.report_asset_materialization(
        asset_key="sales/customer_revenue",
        metadata={"customers": len(by_customer), "path": str(CUSTOMERS)},
    )


if __name__ == "__main__":
    with open_dagster_pipes() as pipes:
        main(pipes)
