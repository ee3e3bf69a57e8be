"""Imports every domain's models so `metadata` holds every table (alembic, tests)."""

from sqlmodel import SQLModel

from upward.audit import models as _audit  # noqa: F401
from upward.credentials import models as _credentials  # noqa: F401
from upward.development import models as _development  # noqa: F401
from upward.integrations import models as _integrations  # noqa: F401
from upward.mobility import models as _mobility  # noqa: F401
from upward.people import models as _people  # noqa: F401
from upward.recognition import models as _recognition  # noqa: F401
from upward.reminders import models as _reminders  # noqa: F401
from upward.tenancy import models as _tenancy  # noqa: F401

metadata = SQLModel.metadata
