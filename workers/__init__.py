"""The dramatiq worker fleet. `upward worker` (or `dramatiq workers`) loads every actor here."""

from workers import audit  # noqa: F401  (registers actors)
from workers.broker import broker  # noqa: F401  (sets the global broker first)
