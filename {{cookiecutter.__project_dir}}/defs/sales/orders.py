"""Clean the raw order export: drop refunds (negative amounts), write sales/orders.csv."""

import csv
import os
from pathlib import Path

from dagster_pipes import open_dagster_pipes

SOURCE = Path(__file__).with_name("sample_orders.csv")
# Where the platform keeps this environment's data, which every step can reach (on a laptop: data/<git branch>/).
OUTPUT = Path(os.environ.get("NOPE_DATA_LOCATION", "data")) / "sales" / "orders.csv"


def main(pipes) -> None:
    with SOURCE.open(newline="") as source:
        rows = [row for row in csv.DictReader(source) if float(row["amount"]) >= 0]
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    with OUTPUT.open("w", newline="") as output:
        writer = csv.DictWriter(output, fieldnames=["order_id", "order_date", "customer", "amount"])
        writer.writeheader()
        writer.writerows(rows)
    pipes.log.info(f"Kept {len(rows)} orders")
    pipes.report_asset_materialization(metadata={"row_count": len(rows), "path": str(OUTPUT)})
    pipes.report_asset_check(
        check_name="no_refunds_left",
        passed=all(float(row["amount"]) > 0 for row in rows),
        metadata={"checked_rows": len(rows)},
    )


if __name__ == "__main__":
    with open_dagster_pipes() as pipes:
        main(pipes)
