"""The reminder planner (`upward.reminders.planner`): properties of a simulated scheduler that calls
`plan()` at every tick with what it already sent, plus scenarios at frozen times.

No database and no I/O: the planner is a pure function. The oracle below restates the rules of the
module docstring independently of the planner's own helpers (`SendWindow.is_open`, ...).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from upward.reminders.planner import (
    CHANNELS,
    DEFAULT_CATCH_UP_DAYS,
    DEFAULT_STEPS,
    RECIPIENT_KINDS,
    Cycle,
    Due,
    Policy,
    Recipient,
    SendWindow,
    Step,
    digest_due,
    effective_channels,
    plan,
    reminder_key,
    scan_range,
    zone,
)

# Kolkata +05:30, Kathmandu +05:45, Kiritimati +14, Pago Pago -11, Lord Howe has a 30-minute DST
TZS = (
    "UTC",
    "America/Los_Angeles",
    "America/New_York",
    "Europe/Paris",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Pacific/Auckland",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Australia/Lord_Howe",
    "Etc/GMT+12",  # UTC-12
)

CRED = uuid.UUID("00000000-0000-4000-8000-00000000c0de")
PARIS = ZoneInfo("Europe/Paris")

PROPS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MAIN = settings(PROPS, max_examples=300)
FEW = settings(PROPS, max_examples=100)
SLOW = settings(PROPS, max_examples=30)


def utc(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=UTC)


def rid(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


def at_local(tz: str, y: int, m: int, d: int, h: int, mi: int = 0) -> datetime:
    """A local wall time, as an aware UTC time (what a scheduler passes)."""
    return datetime(y, m, d, h, mi, tzinfo=ZoneInfo(tz)).astimezone(UTC)


# ---------------------------------------------------------------------------------------------
# the oracle: the docstring's rules, restated


def window_open(now: datetime, tz: str, w: SendWindow) -> bool:
    local = now.astimezone(ZoneInfo(tz))
    return (w.weekends or local.weekday() < 5) and w.start_hour <= local.hour < w.end_hour


def oracle_due_at(expires_on: date, offset: int, tz: str, w: SendWindow) -> datetime:
    """First opening of the window on or after the step's date, in the recipient's timezone."""
    day = expires_on + timedelta(days=offset)
    while not w.weekends and day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, w.start_hour, tzinfo=ZoneInfo(tz))


def effective_kinds(cycle: Cycle, r: Recipient) -> frozenset[str]:
    return r.kinds - {"holder"} if cycle.holder_paused else r.kinds


def applicable(cycle: Cycle, policy: Policy, r: Recipient) -> list[Step]:
    kinds = effective_kinds(cycle, r)
    return sorted((s for s in policy.steps if s.recipients & kinds), key=lambda s: s.offset_days)


@dataclass
class Run:
    """What a simulated scheduler sent: (tick, Due) in order, and the final `sent` set."""

    emitted: list[tuple[datetime, Due]]
    sent: set[tuple[int, uuid.UUID]]

    def of(self, r: uuid.UUID) -> list[tuple[datetime, Due]]:
        return [(t, d) for t, d in self.emitted if d.recipient_id == r]

    def offsets(self, r: uuid.UUID) -> list[int]:
        return [d.offset_days for _, d in self.of(r)]


def simulate(
    cycle: Cycle,
    policy: Policy,
    recipients: Sequence[Recipient],
    ticks: Iterable[datetime],
    *,
    catch_up: int = DEFAULT_CATCH_UP_DAYS,
    sent: set[tuple[int, uuid.UUID]] | None = None,
) -> Run:
    """Call plan() at each tick with the accumulated `sent` set and check, at every tick, every
    rule the oracle can decide (properties 1-5, 7, 8, 11 and the fields of each Due)."""
    sent = set() if sent is None else sent
    by_offset = {s.offset_days: s for s in policy.steps}
    ladders: dict[uuid.UUID, list[tuple[Step, datetime]]] = {}
    if cycle.expires_on is not None:
        for r in recipients:
            ladders[r.employee_id] = [
                (s, oracle_due_at(cycle.expires_on, s.offset_days, r.timezone, policy.window))
                for s in applicable(cycle, policy, r)
            ]
    last: dict[uuid.UUID, int] = {}
    emitted: list[tuple[datetime, Due]] = []
    live = cycle.active and cycle.expires_on is not None and bool(policy.steps)
    prev: datetime | None = None
    for now in ticks:
        assert prev is None or now > prev, "ticks must increase"
        prev = now
        out = plan(cycle, policy, now, recipients, frozenset(sent), catch_up_days=catch_up)
        if not live:
            assert out == [], "an inactive cycle / no expiry / no steps sends nothing (9)"
            continue
        assert cycle.expires_on is not None
        seen: dict[uuid.UUID, Due] = {}
        for d in out:
            # 4. no burst: at most one reminder per recipient per call
            assert d.recipient_id not in seen, f"two reminders for one recipient at {now}: {out}"
            seen[d.recipient_id] = d
        for r in recipients:
            d = seen.get(r.employee_id)
            local = now.astimezone(ZoneInfo(r.timezone))
            snoozed = cycle.snoozed_until is not None and local.date() < cycle.snoozed_until
            latest: tuple[Step, datetime] | None = None
            if window_open(now, r.timezone, policy.window) and not snoozed:
                for step, due_at in ladders[r.employee_id]:
                    if due_at <= now:
                        latest = (step, due_at)
                if latest is not None:
                    step_day = cycle.expires_on + timedelta(days=latest[0].offset_days)
                    if (local.date() - step_day).days > catch_up:
                        latest = None  # not sent late
            if latest is None:
                assert d is None, (
                    f"{d} emitted at {now} ({local}) though nothing is due "
                    "(window closed, snoozed, nothing due or beyond catch-up)"
                )
                continue
            step, due_at = latest
            key = (step.offset_days, r.employee_id)
            # 3. the latest due step; an even later one can't have gone out before
            later = [o for o, who in sent if who == r.employee_id and o > step.offset_days]
            assert not later, f"{r} got offsets {later} before the latest due {step.offset_days}"
            if key in sent:
                assert d is None, f"{d} re-sent at {now} (1)"
                continue
            assert d is not None, (
                f"latest due step {step.offset_days} for {r} not sent at {now} ({local})"
            )
            assert d.offset_days == step.offset_days, (d, step)
        for d in out:
            r = next(x for x in recipients if x.employee_id == d.recipient_id)
            step = by_offset[d.offset_days]
            local = now.astimezone(ZoneInfo(r.timezone))
            # 1. at most once per (offset, recipient) per cycle
            assert (d.offset_days, d.recipient_id) not in sent
            # 2. never outside the window (never at night, never on a skipped weekend)
            assert window_open(now, r.timezone, policy.window), (d, local)
            # 5. strictly increasing offsets per recipient
            assert d.offset_days > last.get(d.recipient_id, -(10**9)), (d, last)
            last[d.recipient_id] = d.offset_days
            # 7. a paused holder gets no holder step
            if cycle.holder_paused:
                assert "holder" not in d.kinds
            # 8. nothing before the recipient's local snooze date
            if cycle.snoozed_until is not None:
                assert local.date() >= cycle.snoozed_until
            # the fields
            assert d.credential_id == cycle.credential_id
            assert d.expires_on == cycle.expires_on
            assert d.kinds == effective_kinds(cycle, r) & step.recipients
            assert d.kinds
            assert d.channels == step.channels
            assert d.mandatory == step.mandatory
            # 11. digest iff not addressed to them as holder and the step is not immediate
            assert d.digest == ("holder" not in d.kinds and not step.immediate)
            assert d.due_at == oracle_due_at(
                cycle.expires_on, d.offset_days, r.timezone, policy.window
            )
            assert d.due_at <= now
            assert d.key == reminder_key(CRED, cycle.expires_on, d.offset_days, d.recipient_id)
            assert f":{cycle.expires_on.isoformat()}:" in d.key
            sent.add((d.offset_days, d.recipient_id))
            emitted.append((now, d))
    return Run(emitted, sent)


# ---------------------------------------------------------------------------------------------
# strategies

kinds_st = st.frozensets(st.sampled_from(RECIPIENT_KINDS), min_size=1)
channels_st = st.frozensets(st.sampled_from(CHANNELS), min_size=1)
expiry_st = st.dates(date(2024, 1, 1), date(2030, 12, 31))
catch_up_st = st.sampled_from([DEFAULT_CATCH_UP_DAYS, DEFAULT_CATCH_UP_DAYS, 0, 3, 30])


@st.composite
def windows(draw: st.DrawFn, min_start: int = 6) -> SendWindow:
    start = draw(st.integers(min_start, 11))
    return SendWindow(start, draw(st.integers(start + 1, start + 12)), draw(st.booleans()))


def steps_for(offsets: Sequence[int]) -> st.SearchStrategy[tuple[Step, ...]]:
    return st.tuples(
        *(
            st.builds(Step, st.just(o), kinds_st, channels_st, st.booleans(), st.booleans())
            for o in offsets
        )
    )


@st.composite
def policies(draw: st.DrawFn, window: st.SearchStrategy[SendWindow] | None = None) -> Policy:
    # unordered on purpose: the planner must not rely on the ladder being sorted
    offsets = draw(st.lists(st.integers(-120, 60), min_size=1, max_size=8, unique=True))
    return Policy(draw(steps_for(offsets)), draw(window if window is not None else windows()))


@st.composite
def recipient_sets(draw: st.DrawFn, max_size: int = 4) -> tuple[Recipient, ...]:
    n = draw(st.integers(1, max_size))
    return tuple(
        Recipient(rid(i + 1), draw(kinds_st), draw(st.sampled_from(TZS))) for i in range(n)
    )


def ladder_span(policy: Policy, expires_on: date, catch_up: int) -> tuple[datetime, datetime]:
    offsets = [s.offset_days for s in policy.steps]
    first = expires_on + timedelta(days=min(offsets) - 3)
    end = expires_on + timedelta(days=max(offsets) + catch_up + 5)
    return datetime.combine(first, time(), UTC), datetime.combine(end, time(), UTC)


@st.composite
def tick_runs(draw: st.DrawFn, policy: Policy, expires_on: date, catch_up: int) -> list[datetime]:
    """Increasing aware UTC ticks over the whole ladder: a sparse random base, bursts of
    15-minute ticks (some around step dates), minus downtime intervals."""
    start, end = ladder_span(policy, expires_on, catch_up)
    span = (end - start).total_seconds()
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    base = draw(st.integers(5, 200))
    aligned = draw(st.booleans())  # on :00/:15/:30/:45 like a cron, or anywhere
    ticks = {start + timedelta(seconds=rng.uniform(0, span)) for _ in range(base)}
    offsets = [s.offset_days for s in policy.steps]
    for anchor, shift, hours in draw(
        st.lists(
            st.tuples(st.sampled_from(offsets), st.integers(-30, 60), st.integers(1, 36)),
            max_size=4,
        )
    ):
        t0 = datetime.combine(expires_on + timedelta(days=anchor), time(), UTC)
        t0 += timedelta(hours=shift)
        ticks.update(t0 + timedelta(minutes=15 * i) for i in range(hours * 4))
    if aligned:
        ticks = {t.replace(minute=t.minute // 15 * 15, second=0, microsecond=0) for t in ticks}
    for frac, hours in draw(
        st.lists(st.tuples(st.floats(0, 1), st.integers(1, 24 * 40)), max_size=3)
    ):
        d0 = start + timedelta(seconds=frac * span)
        d1 = d0 + timedelta(hours=hours)
        ticks = {t for t in ticks if not d0 <= t < d1}
    return sorted(ticks)


@st.composite
def worlds(draw: st.DrawFn) -> tuple[Cycle, Policy, tuple[Recipient, ...], list[datetime], int]:
    policy = draw(policies())
    expires_on = draw(expiry_st)
    recipients = draw(recipient_sets())
    catch_up = draw(catch_up_st)
    offsets = [s.offset_days for s in policy.steps]
    snooze = draw(
        st.one_of(
            st.none(),
            st.integers(min(offsets) - 5, max(offsets) + 20).map(
                lambda k: expires_on + timedelta(days=k)
            ),
        )
    )
    cycle = Cycle(CRED, expires_on, holder_paused=draw(st.booleans()), snoozed_until=snooze)
    return cycle, policy, recipients, draw(tick_runs(policy, expires_on, catch_up)), catch_up


# ---------------------------------------------------------------------------------------------
# 1-5, 7, 8, 11: a scheduler with random ticks and downtime


@MAIN
@given(worlds())
def test_simulated_scheduler_obeys_every_rule(world):
    cycle, policy, recipients, ticks, catch_up = world
    run = simulate(cycle, policy, recipients, ticks, catch_up=catch_up)
    for r in recipients:
        offs = run.offsets(r.employee_id)
        assert offs == sorted(set(offs))
        allowed = {s.offset_days for s in applicable(cycle, policy, r)}
        assert set(offs) <= allowed
        if cycle.holder_paused and r.kinds == {"holder"}:
            assert offs == []


@FEW
@given(worlds(), st.randoms(use_true_random=False))
def test_plan_ignores_step_order_recipient_grouping_and_the_zone_of_now(world, rnd):
    """Per recipient: plan() for a group is plan() for each alone; the ladder's order and the
    timezone `now` is expressed in don't matter."""
    cycle, policy, recipients, ticks, catch_up = world
    if not ticks:
        return
    run = simulate(cycle, policy, recipients, ticks, catch_up=catch_up)
    now = rnd.choice(ticks)
    sent = {k for k in run.sent if rnd.random() < 0.5}
    expected = plan(cycle, policy, now, recipients, sent, catch_up_days=catch_up)
    steps = list(policy.steps)
    rnd.shuffle(steps)
    shuffled = replace(policy, steps=tuple(steps))
    assert plan(cycle, shuffled, now, recipients, sent, catch_up_days=catch_up) == expected
    alone = [
        d for r in recipients for d in plan(cycle, policy, now, [r], sent, catch_up_days=catch_up)
    ]
    assert alone == expected
    there = now.astimezone(ZoneInfo(rnd.choice(TZS)))
    assert plan(cycle, policy, there, recipients, sent, catch_up_days=catch_up) == expected


# ---------------------------------------------------------------------------------------------
# 6. dense ticking, with and without downtime

OPEN_ALWAYS = SendWindow(0, 24, weekends=True)


def dense_ticks(expires_on: date, offsets: Iterable[int], lo: datetime, hi: datetime) -> set:
    """Every 15 minutes around each step date (every local midnight from UTC+14 to UTC-12 lies
    in [day - 15h, day + 12h] UTC), every 3 hours in between: with a window that is always
    open no step can fall between two ticks."""
    ticks = set()
    for o in offsets:
        d0 = datetime.combine(expires_on + timedelta(days=o), time(), UTC) - timedelta(hours=15)
        ticks.update(d0 + timedelta(minutes=15 * i) for i in range(27 * 4 + 1))
    t = lo
    while t <= hi:
        ticks.add(t)
        t += timedelta(hours=3)
    return ticks


@SLOW
@given(
    st.lists(st.integers(-120, 60), min_size=1, max_size=8, unique=True).flatmap(steps_for),
    expiry_st,
    recipient_sets(max_size=3),
    st.booleans(),
)
def test_dense_ticking_sends_every_applicable_step_exactly_once(steps, expires_on, people, paused):
    policy = Policy(steps, OPEN_ALWAYS)
    cycle = Cycle(CRED, expires_on, holder_paused=paused)
    lo, hi = ladder_span(policy, expires_on, DEFAULT_CATCH_UP_DAYS)
    ticks = sorted(dense_ticks(expires_on, [s.offset_days for s in steps], lo, hi))
    run = simulate(cycle, policy, people, ticks)
    for r in people:
        ladder = applicable(cycle, policy, r)
        assert run.offsets(r.employee_id) == [s.offset_days for s in ladder]
        for t, d in run.of(r.employee_id):
            # at the first tick after it became due
            assert timedelta(0) <= t - d.due_at < timedelta(minutes=15)


@st.composite
def spaced_offsets(draw: st.DrawFn) -> list[int]:
    """Sorted offsets at least 3 days apart (so a downtime can cover steps k..m exactly)."""
    offsets = [draw(st.integers(-120, 40))]
    for gap in draw(st.lists(st.integers(3, 40), min_size=1, max_size=7)):
        if offsets[-1] + gap > 60:
            break
        offsets.append(offsets[-1] + gap)
    return offsets


@SLOW
@given(
    spaced_offsets().flatmap(lambda o: st.tuples(st.just(o), steps_for(o))),
    expiry_st,
    recipient_sets(max_size=3),
    st.data(),
)
def test_after_downtime_only_the_latest_skipped_step_goes_out(ladder, expires_on, people, data):
    offsets, steps = ladder
    k = data.draw(st.integers(0, len(offsets) - 1), label="k")
    m = data.draw(st.integers(k, len(offsets) - 1), label="m")

    def day(i: int) -> datetime:
        return datetime.combine(expires_on + timedelta(days=offsets[i]), time(), UTC)

    down_from = day(k) - timedelta(hours=16)  # before any recipient's midnight of step k
    earliest = day(m) + timedelta(hours=12)  # after every recipient's midnight of step m
    latest = (
        day(m + 1) - timedelta(hours=15) if m + 1 < len(offsets) else earliest + timedelta(days=30)
    )
    down_until = earliest + timedelta(
        minutes=15 * data.draw(st.integers(0, int((latest - earliest).total_seconds() // 900)))
    )
    policy = Policy(steps, OPEN_ALWAYS)
    cycle = Cycle(CRED, expires_on)
    lo, hi = ladder_span(policy, expires_on, DEFAULT_CATCH_UP_DAYS)
    hi = max(hi, down_until + timedelta(days=1))
    ticks = {t for t in dense_ticks(expires_on, offsets, lo, hi) if not down_from <= t < down_until}
    ticks.add(down_until)
    ticks = sorted(ticks)
    run = simulate(cycle, policy, people, ticks)
    covered = set(offsets[k : m + 1])
    for r in people:
        ladder_r = [s.offset_days for s in applicable(cycle, policy, r)]
        skipped = [o for o in ladder_r if o in covered]
        expected = [o for o in ladder_r if o < offsets[k]]
        if skipped:
            local = down_until.astimezone(ZoneInfo(r.timezone)).date()
            if (local - (expires_on + timedelta(days=skipped[-1]))).days <= DEFAULT_CATCH_UP_DAYS:
                expected.append(skipped[-1])
        expected += [o for o in ladder_r if o > offsets[m]]
        assert run.offsets(r.employee_id) == expected
        if skipped and skipped[-1] in run.offsets(r.employee_id):
            (t,) = [t for t, d in run.of(r.employee_id) if d.offset_days == skipped[-1]]
            assert t == down_until  # the first tick after the downtime


# ---------------------------------------------------------------------------------------------
# 9. nothing for an inactive cycle, no expiry, no steps


@FEW
@given(worlds(), st.sampled_from(["inactive", "no_expiry", "no_steps"]))
def test_dead_cycles_send_nothing(world, why):
    cycle, policy, recipients, ticks, catch_up = world
    if why == "inactive":
        cycle = replace(cycle, active=False)
    elif why == "no_expiry":
        cycle = replace(cycle, expires_on=None)
    else:
        policy = replace(policy, steps=())
    for now in ticks[::5]:
        assert plan(cycle, policy, now, recipients, catch_up_days=catch_up) == []


# ---------------------------------------------------------------------------------------------
# 10. a renewal starts a new ladder, with new keys


@FEW
@given(worlds(), st.integers(-60, 730).filter(bool), st.data())
def test_renewal_restarts_the_ladder_with_new_keys(world, delta, data):
    cycle, policy, recipients, ticks, catch_up = world
    renewed = replace(cycle, expires_on=cycle.expires_on + timedelta(days=delta))
    later = data.draw(tick_runs(policy, renewed.expires_on, catch_up), label="ticks2")
    cut = data.draw(st.integers(0, len(ticks)), label="cut")
    before = ticks[:cut]
    after = [t for t in later if not before or t > before[-1]]
    old = simulate(cycle, policy, recipients, before, catch_up=catch_up)
    # the new cycle starts with an empty `sent`: the old cycle's reminders don't hold it back
    new = simulate(renewed, policy, recipients, after, catch_up=catch_up)
    old_keys = {d.key for _, d in old.emitted}
    new_keys = {d.key for _, d in new.emitted}
    assert not old_keys & new_keys
    assert all(f":{cycle.expires_on.isoformat()}:" in k for k in old_keys)
    assert all(f":{renewed.expires_on.isoformat()}:" in k for k in new_keys)
    assert all(d.expires_on == renewed.expires_on for _, d in new.emitted)


def test_renewal_dense_sends_the_whole_ladder_again():
    holder = Recipient(rid(1), frozenset({"holder"}), "Europe/Paris")
    policy = Policy(window=OPEN_ALWAYS)
    first = Cycle(CRED, date(2026, 7, 15))
    second = Cycle(CRED, date(2027, 7, 15))
    offsets = [s.offset_days for s in DEFAULT_STEPS]
    t1 = sorted(dense_ticks(first.expires_on, offsets, utc(2026, 4, 1), utc(2026, 9, 1)))
    t2 = sorted(dense_ticks(second.expires_on, offsets, utc(2026, 9, 2), utc(2027, 9, 1)))
    a = simulate(first, policy, [holder], t1)
    b = simulate(second, policy, [holder], t2)
    assert a.offsets(rid(1)) == b.offsets(rid(1)) == offsets
    assert {d.key for _, d in a.emitted}.isdisjoint({d.key for _, d in b.emitted})
    assert b.emitted[0][1].key == f"reminder:{CRED}:2027-07-15:-90:{rid(1)}"
    # `sent` is per cycle: fed the old cycle's, the new ladder would be held back
    assert plan(second, policy, b.emitted[0][0], [holder], a.sent) == []


# ---------------------------------------------------------------------------------------------
# 12. effective channels


@FEW
@given(st.lists(st.sampled_from(CHANNELS), max_size=5), st.booleans(), st.booleans())
def test_effective_channels_drops_email_only_on_opt_out_of_a_non_mandatory_step(
    channels, mandatory, email_enabled
):
    got = effective_channels(channels, mandatory=mandatory, email_enabled=email_enabled)
    assert isinstance(got, frozenset)
    if not email_enabled and not mandatory:
        assert got == frozenset(channels) - {"email"}
    else:
        assert got == frozenset(channels)


# ---------------------------------------------------------------------------------------------
# 13. scan_range covers every credential plan() can emit for, from any tenant timezone


@st.composite
def emitting_moments(draw: st.DrawFn):
    # windows from midnight too: UTC+14 is then two dates ahead of UTC-11/-12
    policy = draw(policies(st.one_of(st.just(OPEN_ALWAYS), windows(min_start=0))))
    others = draw(st.lists(policies(), max_size=1))
    expires_on = draw(expiry_st)
    people = draw(recipient_sets())
    catch_up = draw(catch_up_st)
    r = draw(st.sampled_from(people))
    step = draw(st.sampled_from(policy.steps))
    due = oracle_due_at(expires_on, step.offset_days, r.timezone, policy.window)
    if draw(st.booleans()):
        now = due.astimezone(UTC) + timedelta(minutes=draw(st.integers(0, (catch_up + 4) * 1440)))
    else:  # the edges: the first minute it is due, the last minute of its catch-up
        last_day = expires_on + timedelta(days=step.offset_days + catch_up)
        last = datetime.combine(
            last_day, time(policy.window.end_hour - 1, 59), ZoneInfo(r.timezone)
        )
        now = draw(st.sampled_from([due, last])).astimezone(UTC)
    cycle = Cycle(CRED, expires_on, holder_paused=draw(st.booleans()))
    return cycle, [policy, *others], people, now, catch_up


@PROPS
@given(emitting_moments())
def test_scan_range_includes_every_credential_that_can_emit(moment):
    cycle, policies_, people, now, catch_up = moment
    out = plan(cycle, policies_[0], now, people, catch_up_days=catch_up)
    if not out:
        return
    for tz in TZS:
        today = now.astimezone(ZoneInfo(tz)).date()
        lo, hi = scan_range(policies_, today, catch_up)
        assert lo <= cycle.expires_on <= hi, (tz, today, lo, hi, out)


def test_scan_range_covers_a_midnight_window_across_the_date_line():
    policy = Policy((Step(-10, frozenset({"holder"}), frozenset({"in_app"})),), OPEN_ALWAYS)
    cycle = Cycle(CRED, date(2026, 7, 16))
    holder = Recipient(rid(1), frozenset({"holder"}), "Pacific/Kiritimati")
    now = utc(2026, 7, 5, 10, 30)  # 2026-07-06 00:30 in Kiritimati, 07-04 23:30 in Pago Pago
    (due,) = plan(cycle, policy, now, [holder])
    assert due.offset_days == -10
    lo, hi = scan_range([policy], now.astimezone(ZoneInfo("Pacific/Pago_Pago")).date())
    assert lo <= cycle.expires_on <= hi  # with one day of slack hi was 07-15: not scanned


def test_scan_range_covers_the_last_catch_up_day_across_the_date_line():
    policy = Policy((Step(5, frozenset({"holder"}), frozenset({"in_app"})),), OPEN_ALWAYS)
    cycle = Cycle(CRED, date(2026, 7, 1))  # +5 falls on 07-06, catch-up until 07-20
    holder = Recipient(rid(1), frozenset({"holder"}), "Pacific/Pago_Pago")
    now = at_local("Pacific/Pago_Pago", 2026, 7, 20, 23, 30)  # 07-22 00:30 in Kiritimati
    (due,) = plan(cycle, policy, now, [holder])
    assert due.offset_days == 5
    lo, hi = scan_range([policy], now.astimezone(ZoneInfo("Pacific/Kiritimati")).date())
    assert lo <= cycle.expires_on <= hi


def test_scan_range_and_horizon_by_hand():
    assert Policy().horizon == (90, 30)
    assert Policy(steps=()).horizon == (0, 0)
    only_after = Policy((Step(5, frozenset({"holder"}), frozenset({"in_app"})),))
    assert only_after.horizon == (0, 5)
    only_before = Policy((Step(-3, frozenset({"holder"}), frozenset({"in_app"})),))
    assert only_before.horizon == (3, 0)
    today = date(2026, 7, 1)
    # a recipient's date is within 2 days of the tenant's (UTC+14 vs UTC-12); the slack is
    # at least that and not absurd (a week)
    for policies_, catch_up, before, after in (
        ([Policy()], 14, 90, 30),
        ([only_after, Policy()], 0, 90, 30),
        ([only_after, only_before], 5, 3, 5),
        ([], 14, 0, 0),
    ):
        lo, hi = scan_range(policies_, today, catch_up)
        assert today - timedelta(days=after + catch_up + 7) <= lo
        assert lo <= today - timedelta(days=after + catch_up + 2)
        assert today + timedelta(days=before + 2) <= hi <= today + timedelta(days=before + 7)


# ---------------------------------------------------------------------------------------------
# digest_due sanity


@PROPS
@given(
    st.datetimes(datetime(2024, 1, 1), datetime(2030, 12, 31), timezones=st.just(UTC)),
    st.sampled_from(TZS),
    windows(),
    st.integers(0, 720),
)
def test_digest_due_only_inside_the_window_after_the_delay(now, tz, window, delay):
    got = digest_due(now, tz, window, delay)
    local = now.astimezone(ZoneInfo(tz))
    if got:
        assert window_open(now, tz, window)
        assert local.hour * 60 + local.minute >= window.start_hour * 60 + delay
        assert digest_due(now, tz, window, delay // 2)
    assert digest_due(now, tz, window, 0) == window_open(now, tz, window)
    if delay >= (window.end_hour - window.start_hour) * 60:
        assert not got


def test_digest_due_by_hand():
    w = SendWindow()
    assert not digest_due(at_local("Asia/Tokyo", 2026, 7, 8, 9, 29), "Asia/Tokyo", w, 30)
    assert digest_due(at_local("Asia/Tokyo", 2026, 7, 8, 9, 30), "Asia/Tokyo", w, 30)
    assert not digest_due(at_local("Asia/Tokyo", 2026, 7, 11, 10), "Asia/Tokyo", w, 30)  # Sat
    assert not digest_due(at_local("Asia/Tokyo", 2026, 7, 8, 18), "Asia/Tokyo", w, 0)


# ---------------------------------------------------------------------------------------------
# scenarios at frozen times: the default ladder, a holder in Paris, expiring Wed 2026-07-15

EXPIRY = date(2026, 7, 15)
HOLDER = Recipient(rid(1), frozenset({"holder"}), "Europe/Paris")
MANAGER = Recipient(rid(2), frozenset({"manager"}), "Asia/Tokyo")
HR = Recipient(rid(3), frozenset({"hr_admins"}), "America/New_York")


def offsets_of(out: list[Due]) -> list[tuple[int, uuid.UUID]]:
    return [(d.offset_days, d.recipient_id) for d in out]


def test_default_ladder_dates_in_paris():
    cycle, policy = Cycle(CRED, EXPIRY), Policy()
    # -90 falls on Thu 2026-04-16: 09:00 CEST = 07:00 UTC
    assert plan(cycle, policy, utc(2026, 4, 16, 6, 59), [HOLDER]) == []
    (d,) = plan(cycle, policy, utc(2026, 4, 16, 7, 0), [HOLDER])
    assert (d.offset_days, d.kinds, d.digest, d.mandatory) == (-90, {"holder"}, False, False)
    assert d.channels == {"in_app", "email"}
    assert d.due_at == datetime(2026, 4, 16, 9, tzinfo=PARIS)
    assert d.key == f"reminder:{CRED}:2026-07-15:-90:{rid(1)}"
    # the day of expiry: +0 in the key, the webhook channel
    (d,) = plan(cycle, policy, at_local("Europe/Paris", 2026, 7, 15, 17, 59), [HOLDER])
    assert d.key == f"reminder:{CRED}:2026-07-15:+0:{rid(1)}"
    assert d.channels == {"in_app", "email", "webhook"}
    # +30 falls on Fri 2026-08-14, mandatory
    (d,) = plan(cycle, policy, at_local("Europe/Paris", 2026, 8, 14, 9), [HOLDER])
    assert (d.offset_days, d.mandatory) == (30, True)
    assert d.key.endswith(f":2026-07-15:+30:{rid(1)}")
    # closed at 18:00 and at night
    assert plan(cycle, policy, at_local("Europe/Paris", 2026, 7, 15, 18), [HOLDER]) == []
    assert plan(cycle, policy, at_local("Europe/Paris", 2026, 7, 16, 3), [HOLDER]) == []


def test_a_step_on_saturday_goes_out_on_monday_at_nine_local():
    cycle, policy = Cycle(CRED, EXPIRY), Policy()
    # -60 falls on Sat 2026-05-16
    for now in (
        at_local("Europe/Paris", 2026, 5, 16, 9),
        at_local("Europe/Paris", 2026, 5, 16, 12),
        at_local("Europe/Paris", 2026, 5, 17, 12),
        at_local("Europe/Paris", 2026, 5, 18, 8, 59),
    ):
        assert plan(cycle, policy, now, [HOLDER]) == []
    (d,) = plan(cycle, policy, utc(2026, 5, 18, 7, 0), [HOLDER])  # Mon 09:00 CEST
    assert d.offset_days == -60
    assert d.due_at == datetime(2026, 5, 18, 9, tzinfo=PARIS)
    # allowed weekends: it goes out on the Saturday itself
    weekends = Policy(window=SendWindow(weekends=True))
    (d,) = plan(cycle, weekends, at_local("Europe/Paris", 2026, 5, 16, 9), [HOLDER])
    assert d.offset_days == -60
    assert d.due_at == datetime(2026, 5, 16, 9, tzinfo=PARIS)


def test_dst_change_days_in_paris():
    policy = Policy(
        (Step(0, frozenset({"holder"}), frozenset({"in_app"})),), SendWindow(9, 18, True)
    )
    # spring forward on Sun 2026-03-29: 09:00 CEST is 07:00 UTC (08:00 UTC the day before)
    spring = Cycle(CRED, date(2026, 3, 29))
    assert plan(spring, policy, utc(2026, 3, 29, 6, 59), [HOLDER]) == []
    (d,) = plan(spring, policy, utc(2026, 3, 29, 7, 0), [HOLDER])
    assert d.due_at.astimezone(UTC) == utc(2026, 3, 29, 7)
    # fall back on Sun 2026-10-25: 09:00 CET is 08:00 UTC
    autumn = Cycle(CRED, date(2026, 10, 25))
    assert plan(autumn, policy, utc(2026, 10, 25, 7, 59), [HOLDER]) == []
    (d,) = plan(autumn, policy, utc(2026, 10, 25, 8, 0), [HOLDER])
    assert d.due_at.astimezone(UTC) == utc(2026, 10, 25, 8)
    # the window closes at 18:00 local on both days
    assert plan(spring, policy, utc(2026, 3, 29, 16, 0), [HOLDER]) == []
    assert plan(autumn, policy, utc(2026, 10, 25, 16, 59), [HOLDER]) != []
    assert plan(autumn, policy, utc(2026, 10, 25, 17, 0), [HOLDER]) == []


def test_manager_in_tokyo_and_holder_in_new_york_get_the_same_step_at_different_times():
    holder = Recipient(rid(1), frozenset({"holder"}), "America/New_York")
    ticks = [utc(2026, 7, 7, 12) + timedelta(minutes=15 * i) for i in range(4 * 36)]
    run = simulate(Cycle(CRED, EXPIRY), Policy(), [holder, MANAGER], ticks)
    # -7 falls on Wed 2026-07-08: 09:00 JST = 00:00 UTC, 09:00 EDT = 13:00 UTC
    assert [(t, d.offset_days, d.recipient_id, d.digest) for t, d in run.emitted] == [
        (utc(2026, 7, 8, 0), -7, MANAGER.employee_id, True),
        (utc(2026, 7, 8, 13), -7, holder.employee_id, False),
    ]


def test_fully_dense_quarter_hour_scheduler_over_the_default_ladder():
    people = [HOLDER, MANAGER, HR]
    start = utc(2026, 4, 14)
    ticks = [start + timedelta(minutes=15 * i) for i in range(4 * 24 * 140)]
    run = simulate(Cycle(CRED, EXPIRY), Policy(), people, ticks)
    assert run.offsets(HOLDER.employee_id) == [-90, -60, -30, -7, 0, 7, 30]
    assert run.offsets(MANAGER.employee_id) == [-30, -7, 0, 7, 30]
    assert run.offsets(HR.employee_id) == [7, 30]
    # each at the first tick of its window
    for r in people:
        for t, d in run.of(r.employee_id):
            assert t == d.due_at
            assert t.astimezone(ZoneInfo(r.timezone)).hour == 9
    assert all(d.digest for _, d in run.of(MANAGER.employee_id))


def test_holder_paused_stops_holder_steps_only():
    holder_hr = Recipient(rid(4), frozenset({"holder", "hr_admins"}), "Asia/Kathmandu")
    manager = Recipient(rid(2), frozenset({"manager"}), "Pacific/Pago_Pago")
    cycle = Cycle(CRED, EXPIRY, holder_paused=True)
    ticks = [utc(2026, 4, 14) + timedelta(hours=i) for i in range(24 * 140)]
    run = simulate(cycle, Policy(), [HOLDER, holder_hr, manager], ticks)
    assert run.offsets(HOLDER.employee_id) == []
    assert run.offsets(holder_hr.employee_id) == [7, 30]
    assert all(d.kinds == {"hr_admins"} and d.digest for _, d in run.of(holder_hr.employee_id))
    assert run.offsets(manager.employee_id) == [-30, -7, 0, 7, 30]


def test_snooze_is_the_recipients_local_date():
    cycle = Cycle(CRED, EXPIRY, snoozed_until=date(2026, 7, 10))  # a Friday
    la = Recipient(rid(5), frozenset({"holder"}), "America/Los_Angeles")
    nz = Recipient(rid(6), frozenset({"holder"}), "Pacific/Auckland")
    policy = Policy()
    # -7 was due on Wed 07-08; still snoozed on Thu 07-09 in Paris
    assert plan(cycle, policy, at_local("Europe/Paris", 2026, 7, 8, 10), [HOLDER]) == []
    assert plan(cycle, policy, at_local("Europe/Paris", 2026, 7, 9, 17), [HOLDER]) == []
    # 2026-07-09 23:00 UTC: Thu 16:00 in Los Angeles (snoozed), Fri 11:00 in Auckland (not)
    now = utc(2026, 7, 9, 23)
    assert offsets_of(plan(cycle, policy, now, [la, nz])) == [(-7, nz.employee_id)]
    (d,) = plan(cycle, policy, at_local("Europe/Paris", 2026, 7, 10, 9), [HOLDER])
    assert d.offset_days == -7
    assert d.due_at == datetime(2026, 7, 8, 9, tzinfo=PARIS)


def test_downtime_sends_only_the_latest_and_never_the_skipped_one():
    cycle, policy = Cycle(CRED, EXPIRY), Policy()
    # down from before -30 (Mon 06-15) until Thu 07-09 12:00 UTC (14:00 in Paris)
    ticks = [utc(2026, 6, 1, 7)] + [
        utc(2026, 7, 9, 12) + timedelta(hours=i) for i in range(24 * 30)
    ]
    run = simulate(cycle, policy, [HOLDER], ticks)
    assert run.emitted[0] == (utc(2026, 7, 9, 12), run.emitted[0][1])
    assert run.offsets(HOLDER.employee_id) == [-7, 0, 7]  # -30 never, +30 after the ticks end


def test_catch_up_limit():
    cycle, policy = Cycle(CRED, EXPIRY), Policy()
    # back on Thu 07-30: +7 (Wed 07-22) is 8 days old, within the default 14
    now = at_local("Europe/Paris", 2026, 7, 30, 10)
    assert offsets_of(plan(cycle, policy, now, [HOLDER])) == [(7, HOLDER.employee_id)]
    assert plan(cycle, policy, now, [HOLDER], catch_up_days=7) == []
    assert offsets_of(plan(cycle, policy, now, [HOLDER], catch_up_days=8)) == [(7, rid(1))]
    # +30 (Fri 08-14) more than 14 days ago: nothing, ever
    assert plan(cycle, policy, at_local("Europe/Paris", 2026, 8, 28, 10), [HOLDER]) != []
    assert plan(cycle, policy, at_local("Europe/Paris", 2026, 8, 31, 10), [HOLDER]) == []


def test_already_sent_is_not_sent_again():
    cycle, policy = Cycle(CRED, EXPIRY), Policy()
    now = at_local("Europe/Paris", 2026, 7, 9, 10)
    assert offsets_of(plan(cycle, policy, now, [HOLDER])) == [(-7, rid(1))]
    assert plan(cycle, policy, now, [HOLDER], {(-7, rid(1))}) == []
    # another recipient's sent reminder doesn't hold this one back
    assert plan(cycle, policy, now, [HOLDER], {(-7, rid(2))}) != []


def test_dead_cycles_by_hand():
    now = at_local("Europe/Paris", 2026, 7, 15, 10)
    assert plan(Cycle(CRED, EXPIRY), Policy(), now, [HOLDER]) != []
    assert plan(Cycle(CRED, EXPIRY, active=False), Policy(), now, [HOLDER]) == []
    assert plan(Cycle(CRED, None), Policy(), now, [HOLDER]) == []
    assert plan(Cycle(CRED, EXPIRY), Policy(steps=()), now, [HOLDER]) == []
    assert plan(Cycle(CRED, EXPIRY), Policy(), now, []) == []


def test_immediate_steps_skip_the_digest():
    steps = (
        Step(0, frozenset({"holder", "manager"}), frozenset({"in_app"}), immediate=True),
        Step(1, frozenset({"manager", "watchers"}), frozenset({"in_app"})),
    )
    watcher_manager = Recipient(rid(7), frozenset({"manager", "watchers"}), "UTC")
    cycle, policy = Cycle(CRED, EXPIRY), Policy(steps)
    out = plan(cycle, policy, utc(2026, 7, 15, 10), [HOLDER, watcher_manager])
    assert [(d.recipient_id, d.kinds, d.digest) for d in out] == [
        (rid(1), {"holder"}, False),
        (rid(7), {"manager"}, False),
    ]
    (d,) = plan(cycle, policy, utc(2026, 7, 16, 10), [watcher_manager])
    assert (d.kinds, d.digest) == ({"manager", "watchers"}, True)


def test_unknown_timezones_fall_back_to_utc():
    assert zone("Mars/Olympus") == zone("") == zone("../etc/passwd") == ZoneInfo("UTC")
    cycle, policy = Cycle(CRED, EXPIRY), Policy()
    for name in ("Mars/Olympus", ""):
        lost = Recipient(rid(8), frozenset({"holder"}), name)
        assert plan(cycle, policy, utc(2026, 7, 15, 8, 59), [lost]) == []
        (d,) = plan(cycle, policy, utc(2026, 7, 15, 9), [lost])
        assert d.due_at == utc(2026, 7, 15, 9)


def test_reminder_key_format():
    assert reminder_key(CRED, EXPIRY, -7, rid(1)) == f"reminder:{CRED}:2026-07-15:-7:{rid(1)}"
    assert reminder_key(CRED, EXPIRY, 0, rid(1)).endswith(":2026-07-15:+0:" + str(rid(1)))
    assert reminder_key(CRED, date(2027, 7, 15), 7, rid(1)) != reminder_key(CRED, EXPIRY, 7, rid(1))


# ---------------------------------------------------------------------------------------------
# "an even later step was sent before" is impossible while the inputs stay the same, not when
# they change between two ticks (a recipient's timezone, the holder's pause): the earlier step
# stays skipped


def test_a_timezone_change_does_not_resurrect_a_skipped_step():
    policy = Policy(
        (
            Step(-10, frozenset({"holder"}), frozenset({"in_app"})),
            Step(-7, frozenset({"holder"}), frozenset({"in_app"})),
        )
    )
    cycle = Cycle(CRED, EXPIRY)
    # back from downtime on Wed 07-08 09:00 in Auckland: -7 goes out, -10 (07-05) is skipped
    now = at_local("Pacific/Auckland", 2026, 7, 8, 9)
    nz = Recipient(rid(1), frozenset({"holder"}), "Pacific/Auckland")
    assert offsets_of(plan(cycle, policy, now, [nz])) == [(-7, rid(1))]
    # an hour later they are in Los Angeles (Tue 07-07 15:00, where -7 is not due yet)
    la = replace(nz, timezone="America/Los_Angeles")
    assert plan(cycle, policy, now + timedelta(hours=1), [la], {(-7, rid(1))}) == []


def test_pausing_the_holder_does_not_resurrect_a_skipped_step():
    policy = Policy(
        (
            Step(-10, frozenset({"hr_admins"}), frozenset({"in_app"})),
            Step(-7, frozenset({"holder"}), frozenset({"in_app"})),
        ),
        SendWindow(9, 18, weekends=True),
    )
    both = Recipient(rid(1), frozenset({"holder", "hr_admins"}), "UTC")
    now = utc(2026, 7, 8, 10)
    assert offsets_of(plan(Cycle(CRED, EXPIRY), policy, now, [both])) == [(-7, rid(1))]
    paused = Cycle(CRED, EXPIRY, holder_paused=True)
    assert plan(paused, policy, now + timedelta(hours=1), [both], {(-7, rid(1))}) == []
