"""Jinja extensions Cookiecutter loads from this template (`_extensions` in cookiecutter.json).

`QuietHookRefusals` changes no rendering. When `hooks/pre_gen_project.py` refuses the answers
it prints one line per problem and exits 1, and Cookiecutter then logs that exit with a Python
traceback of its own hook runner, which reads like a crash. This extension, loaded into the
Cookiecutter process before any hook runs, drops the traceback from that one log record: the
refusal stays one clear line per problem, plus Cookiecutter's one-line "Stopping generation".
"""

from __future__ import annotations

import logging

from cookiecutter.exceptions import FailedHookException
from jinja2.ext import Extension


class _NoTracebackForRefusals(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], FailedHookException):
            record.exc_info = None
            record.exc_text = None
        return True


class QuietHookRefusals(Extension):
    """Installs the filter on Cookiecutter's hook logger, once per process."""

    _filter = _NoTracebackForRefusals()

    def __init__(self, environment):
        super().__init__(environment)
        hooks_logger = logging.getLogger("cookiecutter.hooks")
        if self._filter not in hooks_logger.filters:
            hooks_logger.addFilter(self._filter)
