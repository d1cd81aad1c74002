"""An asset's description: the manifest's words, then the script's source, bounded.

Dagster copies every asset's description into the repository snapshot that the code server
sends to the webserver and the daemon, and keeps it in memory in each of them. With the
whole source in every asset, one 5 MB script with 30 assets made a 150 MB snapshot. So one
asset's description holds at most `MAX_ASSET_DESCRIPTION_CHARS`, and the assets of one
manifest share `MAX_MANIFEST_DESCRIPTION_CHARS` between them (30 assets: about 4,200 each).
Where the source is cut, the description says so; the whole file is always one click away,
through the asset's `script` code reference.

Descriptions are shortened, never refused: `nope check` accepts what loads, and loads what
it accepts.
"""

from __future__ import annotations

import re

MAX_ASSET_DESCRIPTION_CHARS = 16_000
"""One asset's description: a few hundred lines of source, more than a page shows."""

MAX_MANIFEST_DESCRIPTION_CHARS = 128_000
"""All the asset descriptions of one manifest together."""

_NOTE_CHARS = 250
"""Room kept for the note that says what was cut (each note below is shorter)."""

_MIN_SOURCE_CHARS = 200
"""Less room than this for the source, and it is left out rather than cut to a line or two."""

# Fenced-code languages for the script source shown in the asset description.
FENCE_LANGUAGES = {".py": "python", ".sh": "bash", ".r": "r", ".js": "javascript", ".sql": "sql", ".ts": "typescript"}

_WHOLE_FILE = "the whole file opens from the asset's `script` source link"


def limit_per_asset(asset_count: int) -> int:
    """How many characters each asset of a manifest with `asset_count` assets may describe itself in."""
    return min(MAX_ASSET_DESCRIPTION_CHARS, MAX_MANIFEST_DESCRIPTION_CHARS // max(asset_count, 1))


def asset_description(written: str | None, source: str, *, language: str, limit: int) -> str:
    """`written` (if any), then `source` as a Markdown code block: at most `limit` characters in all.

    The source is cut at a line's end where it can be, with a note of how many lines are shown;
    when the written words leave no room for it, the source is left out (and the words cut if need be),
    saying so.
    """
    source = source.rstrip()
    prefix = f"{written}\n\n" if written else ""
    if len(prefix) + len(source) + 40 <= limit:  # 40: room for two fences and the language
        whole = prefix + fenced(source, language)
        if len(whole) <= limit:
            return whole
    total_lines = source.count("\n") + 1
    room = limit - len(prefix) - _NOTE_CHARS
    if room >= _MIN_SOURCE_CHARS:
        shown = _cut_at_line_end(source, room)
        while True:  # the fences grow with the longest run of backticks shown: cut again until it fits
            shown_lines = shown.count("\n") + 1
            note = f"*The script's source is cut here: {shown_lines:,} of {total_lines:,} lines shown; {_WHOLE_FILE}.*"
            text = f"{prefix}{fenced(shown, language)}\n\n{note}"
            if len(text) <= limit:
                return text
            shown = _cut_at_line_end(shown, len(shown) - (len(text) - limit))
    kept = (written or "")[: max(limit - _NOTE_CHARS, 0)]
    cut = "the description is cut and " if kept != (written or "") else ""
    note = f"*Here {cut}the script's source ({total_lines:,} lines) is left out; {_WHOLE_FILE}.*"
    text = f"{kept}\n\n{note}" if kept else note
    return text[:limit]  # only a manifest of thousands of assets leaves less room than the note takes


def bounded_text(text: str | None, limit: int = MAX_ASSET_DESCRIPTION_CHARS) -> str | None:
    """`text` cut to `limit` characters, saying so: for the description of a manifest's op."""
    if text is None or len(text) <= limit:
        return text
    kept = text[: limit - _NOTE_CHARS]
    return f"{kept}\n\n*The description is cut here ({len(kept):,} of {len(text):,} characters shown).*"


def fenced(source: str, language: str) -> str:
    """`source` as a Markdown code block, with a fence the source cannot close."""
    fence = "`" * max(3, _longest_backtick_run(source) + 1)
    return f"{fence}{language}\n{source}\n{fence}"


def _cut_at_line_end(source: str, chars: int) -> str:
    """The start of `source`, at most `chars` long: whole lines, unless the first line alone is longer."""
    cut = source[:chars]
    end = cut.rfind("\n")
    return cut[:end] if end > 0 else cut


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)
