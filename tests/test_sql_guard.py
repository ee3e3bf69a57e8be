"""Hand-written SQL names its columns: no `select *` or `returning *` over a table.

A statement that says `*` changes its result when a migration adds a column, and asyncpg
refuses a cached statement whose result type changed, so the previous release would fail
during a deploy (expand/contract, docs/operations.md). `upward.db.columns(Model)` writes the
list. A `*` over a CTE or temporary table the same statement (or transaction) defines is fine:
those are listed below, by file and text."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "upward"

STAR = re.compile(r"\b(?:select|returning)\s+(?:distinct\s+)?(?:[a-z_][a-z0-9_]*\.)?\*", re.I)

# (file, the alias.* text): projections of the statement's own CTEs or temp tables
ALLOWED = {
    ("recognition/insights.py", "select d.*"),  # `due`, a CTE with named columns
    ("mobility/matching.py", "select c.*"),  # `cand`, a CTE with named columns
    ("mobility/matching.py", "select s.*"),  # the scoring's temp table, of this transaction
}


def offenders() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        source = path.read_text()
        for m in STAR.finditer(source):  # over the whole text: `select` and `*` may be lines apart
            text = re.sub(r"\s+", " ", m.group(0)).lower()
            if (rel, text) not in ALLOWED:
                n = source.count("\n", 0, m.start()) + 1
                found.append(f"{rel}:{n}: {source.splitlines()[n - 1].strip()}")
    return found


def test_no_statement_selects_or_returns_star_over_a_table() -> None:
    assert offenders() == [], "name the columns (upward.db.columns):\n" + "\n".join(offenders())


def test_the_guard_sees_the_forms_it_forbids(tmp_path: Path) -> None:
    for text in ("select * from t", "RETURNING *", "select k.* from kudos k", "returning  x.*"):
        assert STAR.search(text), text
    for text in ("select count(*) from t", "select id, name from t", "array_agg(x.*)"):
        assert not STAR.search(text), text
