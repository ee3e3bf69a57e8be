"""Matching at scale: ratings by skill with the employee and proficiency in the index (an
index-only scan: what matching reads for a posting's skills, for every candidate at once), and
when a posting's matches were last computed (`job_postings.matched_at`: a re-rank writes only
the rows that changed, so the rows' own times no longer say it).

Revision ID: 0013_matching
Revises: 0012_mobility
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013_matching"
down_revision: str | None = "0012_mobility"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # expand, then contract: the new index exists before the old one goes
    op.execute(
        "CREATE INDEX employee_skills_skill_cover_idx ON employee_skills (tenant_id, skill_id) "
        "INCLUDE (employee_id, proficiency)"
    )
    op.execute("DROP INDEX employee_skills_skill_idx")
    op.execute("ALTER TABLE job_postings ADD COLUMN matched_at timestamptz")
    # postings matched before: as of their newest stored match
    op.execute(
        "UPDATE job_postings j SET matched_at = m.at FROM (SELECT tenant_id, posting_id, "
        "max(computed_at) AS at FROM posting_matches GROUP BY 1, 2) m "
        "WHERE m.tenant_id = j.tenant_id AND m.posting_id = j.id"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE job_postings DROP COLUMN matched_at")
    op.execute("CREATE INDEX employee_skills_skill_idx ON employee_skills (tenant_id, skill_id)")
    op.execute("DROP INDEX employee_skills_skill_cover_idx")
