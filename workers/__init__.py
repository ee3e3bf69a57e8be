"""The dramatiq worker fleet. `upward worker` (or `dramatiq workers`) loads every actor here."""

from workers.broker import broker  # noqa: F401  (sets the global broker first)

from workers import audit  # noqa: F401,E402  (registers actors)
