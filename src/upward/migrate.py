"""Run alembic migrations programmatically (as the owner), then set the app role's password."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from upward.settings import get_settings, sqlalchemy_url

ROOT = Path(__file__).resolve().parents[2]


def alembic_config(url: str | None = None) -> Config:
    ini = ROOT / "alembic.ini"
    cfg = Config(str(ini)) if ini.exists() else Config()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    if url:
        cfg.attributes["url"] = sqlalchemy_url(url)
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    settings = get_settings()
    url = url or settings.owner_url()
    command.upgrade(alembic_config(url), revision)
    if not settings.app_database_url:
        # The app role's password follows UPWARD_APP_DB_PASSWORD; a full
        # UPWARD_APP_DATABASE_URL means the operator manages the role's credentials.
        asyncio.run(_set_app_password(url, settings.app_db_password))


async def _set_app_password(url: str, password: str) -> None:
    engine = create_async_engine(sqlalchemy_url(url))
    try:
        async with engine.begin() as conn:
            # ALTER ROLE cannot take bind parameters; quote the literal safely.
            quoted = await conn.scalar(text("select quote_literal(:p)"), {"p": password})
            await conn.execute(text(f"ALTER ROLE upward_app PASSWORD {quoted}"))
    finally:
        await engine.dispose()


# --- the release's revisions (readiness) -------------------------------------------------------


@functools.cache
def release_revisions() -> tuple[str, frozenset[str]] | None:
    """(head, every revision) of this release's migrations; None without a migrations folder
    (the check is then skipped)."""
    from alembic.script import ScriptDirectory

    if not (ROOT / "migrations").is_dir():
        return None
    script = ScriptDirectory.from_config(alembic_config())
    return script.get_current_head() or "", frozenset(r.revision for r in script.walk_revisions())


def schema_state(db_revision: str | None) -> tuple[bool, str]:
    """(ready, what to report) for the database's revision against this release's: ready when
    equal or newer (a later release migrated it: expand/contract keeps this one working), not
    when older or missing."""
    known = release_revisions()
    if known is None:
        return True, "ok (not checked: no migrations folder)"
    head, revisions = known
    if db_revision == head:
        return True, "ok"
    if db_revision is None:
        return False, f"not migrated: run `upward migrate` (this release needs {head})"
    if db_revision in revisions:
        return False, f"behind: at {db_revision}, this release needs {head} (run `upward migrate`)"
    return True, f"ok (ahead of this release: at {db_revision}, this release's is {head})"
