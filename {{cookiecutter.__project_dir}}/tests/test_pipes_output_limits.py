"""What a script's Pipes messages may add to the event log: bounded per step, like its stderr tail.

Without bounds, 100,000 metadata entries grew a SQLite event log by 23 MB and 100 `pipes.log`
messages of 200 KB by 20 MB, in one run. Each script here runs as a real subprocess and its
events are stored by a real Dagster instance; the test weighs what was stored.
"""

from __future__ import annotations

import dagster as dg

from nope import NopeProject
from nope.pipes_limits import MAX_LOG_BYTES, MAX_LOG_MESSAGE_BYTES, MAX_METADATA_ENTRIES
from nope.pipes_messages import MAX_LINE_WARNINGS

from conftest import materialize

FLOODS_METADATA_AND_LOGS = """
from dagster_pipes import open_dagster_pipes

with open_dagster_pipes() as pipes:
    for number in range(100):
        pipes.log.info(f"message {number} " + "x" * 200_000)
    pipes.report_asset_materialization(
        metadata={"too_big": "y" * 50_000, **{f"entry_{number}": number for number in range(100_000)}}
    )
"""


def stored_bytes(instance: dg.DagsterInstance, run_id: str) -> int:
    """The size of the run's events as Dagster serializes them into its event log."""
    records = instance.get_records_for_run(run_id, limit=1_000_000).records
    return sum(len(dg.serialize_value(record.event_log_entry)) for record in records)


def test_metadata_and_logs_of_one_step_are_bounded_and_what_was_dropped_is_said(make_defs, instance):
    defs_path = make_defs({"g/flood.py": FLOODS_METADATA_AND_LOGS, "g/flood.yaml": "target: subprocess\n"})
    result = materialize(NopeProject.make_definitions(defs_path=defs_path), instance)
    assert result.success
    assert stored_bytes(instance, result.run_id) < 3_000_000  # 43 MB without the bounds

    materialization = instance.get_latest_materialization_event(dg.AssetKey(["g", "flood"]))
    assert materialization is not None
    metadata = materialization.asset_materialization.metadata
    assert "too_big" not in metadata
    assert {"entry_0", f"entry_{MAX_METADATA_ENTRIES - 1}"} <= set(metadata)
    assert f"entry_{MAX_METADATA_ENTRIES}" not in metadata

    messages = [record.event_log_entry.user_message for record in instance.get_records_for_run(result.run_id).records]
    logged = [message for message in messages if message.startswith("message ")]
    assert logged[0].endswith(f"more bytes cut: at most {MAX_LOG_MESSAGE_BYTES:,} per message]")
    assert 0 < len(logged) < 100
    assert sum(len(message.encode()) for message in logged) <= MAX_LOG_BYTES
    notes = [message for message in messages if "left out of the event log" in message]
    assert len(notes) == 1, messages[-5:]
    assert f"{100_000 - MAX_METADATA_ENTRIES + 1:,} metadata entries dropped" in notes[0]
    assert "`too_big`" in notes[0]
    assert f"{100 - len(logged):,} log messages dropped" in notes[0]


WRITES_GARBAGE_IN_A_LOOP = """
import os
from dagster_pipes import decode_param, open_dagster_pipes

with open_dagster_pipes() as pipes:
    with open(decode_param(os.environ["DAGSTER_PIPES_MESSAGES"])["path"], "a") as messages:
        messages.write("garbage\\n" * 100_000)
    pipes.report_asset_materialization(metadata={"after": "kept"})
"""


def test_a_flood_of_bad_lines_names_the_first_few_and_counts_the_rest(make_defs, instance):
    defs_path = make_defs({"g/garbage.py": WRITES_GARBAGE_IN_A_LOOP, "g/garbage.yaml": "target: subprocess\n"})
    result = materialize(NopeProject.make_definitions(defs_path=defs_path), instance)
    assert result.success
    messages = [record.event_log_entry.user_message for record in instance.get_records_for_run(result.run_id).records]
    named = [message for message in messages if "of the script's Pipes messages was skipped" in message]
    assert [message.split(" of ")[0] for message in named] == [f"[pipes] line {n}" for n in range(2, 2 + MAX_LINE_WARNINGS)]
    assert f"[pipes] {100_000 - MAX_LINE_WARNINGS:,} more lines of the script's Pipes messages were skipped." in messages
    materialization = instance.get_latest_materialization_event(dg.AssetKey(["g", "garbage"]))
    assert materialization is not None and "after" in materialization.asset_materialization.metadata
