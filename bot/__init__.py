"""Wiring: config, CLI, runtime, scheduler jobs, delivery outbox.

Importing it makes every log record of the process safe (`bot.log_safety`), whoever configures
logging afterwards.
"""

from bot.log_safety import install as _install_log_safety

_install_log_safety()
