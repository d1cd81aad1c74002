"""Keep what a platform process holds from the other processes of its user (Linux).

Scripts run as the platform's user. A script's own environment is minimal
(`script_environment.py`), but a process may read `/proc/<pid>/environ` and `/proc/<pid>/mem`
of any other process of the same user: its supervisor, its step process, the run's process,
the code server, each holding the platform's whole environment (cloud keys, database
passwords). A process that is not "dumpable" (`prctl(PR_SET_DUMPABLE, 0)`) can be read only by
a process with CAP_SYS_PTRACE, which root has and the platform's user should not; it also
leaves no core dump, and debuggers such as py-spy need root to attach to it.

The kernel resets the flag whenever a process starts a program, so each platform process sets
it for itself as it begins its work, before any script of its runs: when it loads the
definitions (code server, run's process, step process: `NopeProject.make_definitions`), when
it starts a script (`process_tree.py`, for a step that did not load them through Nope), when it
loads the run launcher (webserver, daemon), and the supervisor (its own copy). The script's own
processes stay readable to each other: they hold nothing more than the script.

Elsewhere (macOS) this does nothing: a process of the same user can read another's environment
there (`ps -E`). Containers isolate more: see docs/platform/security.md.
"""

from __future__ import annotations

from nope.prctl import ON_LINUX, PR_SET_DUMPABLE, prctl


def keep_this_process_private() -> None:
    """Make this process unreadable to other processes of its user (Linux; a no-op elsewhere)."""
    if ON_LINUX:
        prctl(PR_SET_DUMPABLE, 0)
