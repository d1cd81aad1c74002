"""What a failing script's output costs: a bounded tail in events, the whole output in the step's logs."""

from __future__ import annotations

from nope import NopeProject
from nope.script_output import TAIL_BYTES, OutputTail

from conftest import materialize, step_failure_text

HUGE_LINE_THEN_FAIL = """
import sys
sys.stderr.write("start " + "x" * 5_000_000 + " end\\n")
for number in range(500):
    print(f"line {number}", file=sys.stderr)
sys.stderr.write("no newline at the end")
sys.exit(2)
"""


def test_a_huge_stderr_fails_the_step_with_a_bounded_tail_and_reaches_the_logs_whole(make_defs, instance, capfd):
    defs_path = make_defs({"g/noisy.py": HUGE_LINE_THEN_FAIL, "g/noisy.yaml": "target: subprocess\n"})
    result = materialize(NopeProject.make_definitions(defs_path=defs_path), instance)
    assert not result.success
    text = step_failure_text(result)
    assert "exited with code 2" in text
    assert text.rstrip().endswith("line 499\nno newline at the end")
    assert "line 100\n" not in text  # only the last lines are kept
    failure = result.get_step_failure_events()[0].step_failure_data.user_failure_data
    assert failure is not None and failure.description is not None
    assert len(failure.description.encode()) < TAIL_BYTES + 500
    stderr_tail = failure.metadata["stderr_tail"].value
    assert isinstance(stderr_tail, str)
    assert len(stderr_tail.encode()) <= TAIL_BYTES
    logged = capfd.readouterr().err
    assert "x" * 5_000_000 + " end" in logged and "line 100\n" in logged


def test_a_long_line_keeps_its_start_and_says_how_much_was_cut():
    tail = OutputTail(lines=3, line_bytes=10, total_bytes=1_000)
    tail.feed(b"0123456789abcdef\nshort\n")
    tail.feed(b"split ac")
    tail.feed(b"ross chunks\n")
    assert tail.text().splitlines() == [
        "0123456789 [... 6 more bytes: the whole line is in the step's logs]",
        "short",
        "split acro [... 9 more bytes: the whole line is in the step's logs]",
    ]


def test_the_tail_drops_its_oldest_lines_to_stay_within_its_total():
    tail = OutputTail(lines=100, line_bytes=50, total_bytes=30)
    for number in range(10):
        tail.feed(f"line {number:02}\n".encode())  # 8 bytes, 9 with its newline
    tail.finish()
    assert tail.text() == "line 07\nline 08\nline 09"
