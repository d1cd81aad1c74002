"""`python -m nope ...`: the same command as the `nope` console script, without installing."""

from nope.cli import main

raise SystemExit(main())
