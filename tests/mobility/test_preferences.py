"""Career preferences and mobility settings through HTTP: setting one's own, who reads them
(the person, HR, the manager line only when openly looking; a confidential search reads exactly
like "not looking" to managers and colleagues), validation, statement counts, isolation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import GQL, TenantInfo, only_error
from tests.mobility.test_postings import catalog, org
from upward import clock

PREFS = """openToMoves workModes willingToRelocate openToGigs gigHoursPerWeek openToDownward
  updatedAt tracks { name } levels { title } locations { name }"""
SET = (
    f"""mutation($i: CareerPreferencesInput!) {{ setCareerPreferences(input: $i) {{ {PREFS} }} }}"""
)
MINE = f"{{ myCareerPreferences {{ {PREFS} }} }}"
OF = f"""query($id: ID!) {{ node(id: $id) {{ ... on Employee {{ email careerPreferences {{
  {PREFS} }} }} }} }}"""
SETTINGS = """{ mobilitySettings { managerNoticeStage maxAlertsPerWeek alertTopN alertMinScore
  updatedAt } }"""
SET_SETTINGS = """mutation($i: MobilitySettingsInput!) { setMobilitySettings(input: $i) {
  managerNoticeStage maxAlertsPerWeek alertTopN alertMinScore } }"""


@pytest.fixture
async def t(make_tenant: Any) -> Any:
    clock.freeze(datetime(2026, 6, 15, 10, 0, tzinfo=UTC))
    try:
        yield await make_tenant(org())
    finally:
        clock.freeze(None)


async def _set(gql: GQL, t: TenantInfo, who: str, **i: Any) -> dict[str, Any]:
    return (await gql.ok(SET, {"i": i}, token=t.token(who)))["setCareerPreferences"]


async def _of(gql: GQL, t: TenantInfo, viewer: str, whose: str) -> Any:
    got = await gql.ok(OF, {"id": t.gid(whose)}, token=t.token(viewer))
    return got["node"]["careerPreferences"]


async def test_set_and_read_your_own(t: TenantInfo, gql: GQL, owner_engine: Any) -> None:
    c = await catalog(gql, t)
    mine = (await gql.ok(MINE, token=t.token("dev@t.example")))["myCareerPreferences"]
    assert mine["openToMoves"] == "NO" and mine["updatedAt"] is None  # the defaults
    tracks = await gql.ok("{ careerTracks { id } }", token=t.token("dev@t.example"))
    got = await _set(
        gql,
        t,
        "dev@t.example",
        openToMoves="YES",
        trackIds=[tracks["careerTracks"][0]["id"]],
        levelIds=[c["Senior Engineer"]],
        locationIds=[c["Berlin"]],
        workModes=["REMOTE", "HYBRID", "REMOTE"],
        willingToRelocate=True,
        openToGigs=True,
        gigHoursPerWeek=6,
    )
    assert got["openToMoves"] == "YES" and got["workModes"] == ["REMOTE", "HYBRID"]
    assert got["tracks"] == [{"name": "Engineering"}]
    assert got["levels"] == [{"title": "Senior Engineer"}]
    assert got["locations"] == [{"name": "Berlin"}] and got["gigHoursPerWeek"] == 6
    assert got["updatedAt"] is not None
    assert (await gql.ok(MINE, token=t.token("dev@t.example")))["myCareerPreferences"] == got
    # replacing: omitted lists are emptied
    again = await _set(gql, t, "dev@t.example", openToMoves="CONFIDENTIAL")
    assert again["tracks"] == [] and again["openToGigs"] is False
    async with owner_engine.connect() as conn:
        actions = (
            await conn.execute(
                sa.text(
                    "select count(*) from audit_events where tenant_id = :t "
                    "and action = 'career_preferences.set'"
                ),
                {"t": t.id},
            )
        ).scalar()
        payloads = (
            await conn.execute(
                sa.text(
                    "select payload from domain_events where tenant_id = :t "
                    "and kind = 'career_preferences.changed'"
                ),
                {"t": t.id},
            )
        ).scalars()
        payloads = list(payloads)
    assert actions == 2
    # the outbox names the person only: the openness is not broadcast
    assert payloads == [{"employee_id": str(t.ids["dev@t.example"])}] * 2


async def test_who_reads_them(t: TenantInfo, gql: GQL) -> None:
    """dev reports to lead, lead to boss; peer is a colleague (also under boss)."""
    never = {who: await _of(gql, t, who, "dev@t.example") for who in ("lead@t.example",)}
    assert never == {"lead@t.example": None}
    # never set: the person and HR read the defaults
    assert (await _of(gql, t, "hr@t.example", "dev@t.example"))["openToMoves"] == "NO"
    seen: dict[str, dict[str, Any]] = {}
    for openness in ("NO", "YES", "CONFIDENTIAL"):
        await _set(gql, t, "dev@t.example", openToMoves=openness, openToGigs=True)
        for who in ("dev@t.example", "hr@t.example", "admin@t.example"):
            got = await _of(gql, t, who, "dev@t.example")
            assert got["openToMoves"] == openness, (who, openness)
        for who in ("lead@t.example", "boss@t.example"):
            got = await _of(gql, t, who, "dev@t.example")
            assert (got is not None) is (openness == "YES"), (who, openness)
            if openness == "YES":
                assert got["openToGigs"] is True
        assert await _of(gql, t, "peer@t.example", "dev@t.example") is None
        # the manager's whole answer, to compare across opennesses
        for who in ("lead@t.example", "peer@t.example"):
            seen[f"{who}:{openness}"] = await gql(
                OF, {"id": t.gid("dev@t.example")}, token=t.token(who)
            )
    # a confidential search reads exactly like "not looking" (and like never set)
    for who in ("lead@t.example", "peer@t.example"):
        assert seen[f"{who}:CONFIDENTIAL"] == seen[f"{who}:NO"]
    # the person's own employee page (by id) shows them everything
    assert (await _of(gql, t, "dev@t.example", "dev@t.example"))["openToMoves"] == "CONFIDENTIAL"
    # someone who never set any reads their own defaults
    assert (await gql.ok(MINE, token=t.token("lead@t.example")))["myCareerPreferences"][
        "updatedAt"
    ] is None


async def test_validation(t: TenantInfo, gql: GQL, make_tenant: Any) -> None:
    c = await catalog(gql, t)
    other = await make_tenant(org())
    oc = await catalog(gql, other)
    for i, field in (
        ({"openToMoves": "YES", "gigHoursPerWeek": 5}, "input.gigHoursPerWeek"),
        (
            {"openToMoves": "YES", "openToGigs": True, "gigHoursPerWeek": 61},
            "input.gigHoursPerWeek",
        ),
        ({"openToMoves": "YES", "levelIds": [c["Engineer"], oc["Engineer"]]}, "input.levelIds.1"),
        ({"openToMoves": "YES", "locationIds": [oc["Berlin"]]}, "input.locationIds.0"),
        ({"openToMoves": "YES", "trackIds": ["nonsense"]}, "input.trackIds.0"),
    ):
        err = only_error(await gql(SET, {"i": i}, token=t.token("dev@t.example")))
        assert err["extensions"]["code"] == "BAD_USER_INPUT", err
        assert err["extensions"]["field"] == field, (i, err)


async def test_statements_do_not_grow_with_the_page(
    t: TenantInfo, gql: GQL, count_statements: Any
) -> None:
    for who in ("dev@t.example", "peer@t.example", "lead@t.example"):
        await _set(gql, t, who, openToMoves="YES")
    q = """query($n: Int) { employees(first: $n) { edges { node { email careerPreferences {
      openToMoves levels { title } } } } } }"""
    counts = []
    for n in (2, 6):
        count_statements.statements.clear()
        got = await gql.ok(q, {"n": n}, token=t.token("hr@t.example"))
        assert len(got["employees"]["edges"]) == n
        counts.append(count_statements.count)
    assert counts[0] == counts[1], counts
    got = await gql.ok(q, {"n": 6}, token=t.token("boss@t.example"))
    visible = {
        e["node"]["email"] for e in got["employees"]["edges"] if e["node"]["careerPreferences"]
    }
    # boss's line who said YES, and boss's own (the defaults)
    assert visible == {"dev@t.example", "peer@t.example", "lead@t.example", "boss@t.example"}


async def test_isolation(t: TenantInfo, gql: GQL, make_tenant: Any) -> None:
    await _set(gql, t, "dev@t.example", openToMoves="YES")
    other = await make_tenant(org())
    err = only_error(
        await gql(OF, {"id": t.gid("dev@t.example")}, token=other.token("hr@t.example"))
    )
    assert err["extensions"]["code"] == "NOT_FOUND"
    mine = (await gql.ok(MINE, token=other.token("dev@t.example")))["myCareerPreferences"]
    assert mine["openToMoves"] == "NO"


async def test_settings(t: TenantInfo, gql: GQL, owner_engine: Any) -> None:
    got = (await gql.ok(SETTINGS, token=t.token("hr@t.example")))["mobilitySettings"]
    assert got == {
        "managerNoticeStage": "OFFER",
        "maxAlertsPerWeek": 3,
        "alertTopN": 20,
        "alertMinScore": 60,
        "updatedAt": None,
    }
    for who in ("dev@t.example", "lead@t.example"):
        err = only_error(await gql(SETTINGS, token=t.token(who)))
        assert err["extensions"]["code"] == "FORBIDDEN"
        err = only_error(await gql(SET_SETTINGS, {"i": {"alertTopN": 5}}, token=t.token(who)))
        assert err["extensions"]["code"] == "FORBIDDEN"
    got = await gql.ok(
        SET_SETTINGS,
        {"i": {"managerNoticeStage": "INTERVIEWING", "alertTopN": 5}},
        token=t.token("admin@t.example"),
    )
    assert got["setMobilitySettings"] == {
        "managerNoticeStage": "INTERVIEWING",
        "maxAlertsPerWeek": 3,
        "alertTopN": 5,
        "alertMinScore": 60,
    }
    got = await gql.ok(SET_SETTINGS, {"i": {"maxAlertsPerWeek": 0}}, token=t.token("hr@t.example"))
    assert got["setMobilitySettings"]["maxAlertsPerWeek"] == 0
    assert got["setMobilitySettings"]["alertTopN"] == 5  # omitted: kept
    for i, field in (
        ({"alertTopN": 0}, "input.alertTopN"),
        ({"alertMinScore": 101}, "input.alertMinScore"),
        ({"maxAlertsPerWeek": 51}, "input.maxAlertsPerWeek"),
        ({"managerNoticeStage": None}, "input.managerNoticeStage"),
    ):
        err = only_error(await gql(SET_SETTINGS, {"i": i}, token=t.token("hr@t.example")))
        assert err["extensions"]["field"] == field, err
    async with owner_engine.connect() as conn:
        n = (
            await conn.execute(
                sa.text(
                    "select count(*) from audit_events where tenant_id = :t "
                    "and action = 'mobility_settings.set'"
                ),
                {"t": t.id},
            )
        ).scalar()
    assert n == 2
