"""`python -m nope ...`: the same command as the `nope` console script, without installing."""
from __future__ import annotations

from nope.cli import main

raise SystemExit(main())
