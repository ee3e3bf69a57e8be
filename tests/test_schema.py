"""schema.graphql is the checked-in contract: it must equal what the code exports."""

from tests.conftest import ROOT
from upward.graphql.schema import export_sdl


def test_schema_file_matches_code() -> None:
    checked_in = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert checked_in == export_sdl(), "schema.graphql is stale: run `make schema`"


def test_every_type_and_field_is_documented_where_it_matters() -> None:
    sdl = export_sdl()
    for needle in ("interface Node", "type PageInfo", "totalCount: Int!", "enum EmployeeOrder"):
        assert needle in sdl
