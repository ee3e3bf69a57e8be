"""The dramatiq worker fleet. `upward worker` (or `dramatiq workers`) loads every actor here."""

import workers.broker  # noqa: F401  (sets the global broker before any actor is declared)
from workers import (
    audit,  # noqa: F401  (registers actors)
    credentials,  # noqa: F401  (registers actors)
    development,  # noqa: F401  (registers actors)
    mobility,  # noqa: F401  (registers actors)
    recognition,  # noqa: F401  (registers actors)
    reminders,  # noqa: F401  (registers actors)
)
