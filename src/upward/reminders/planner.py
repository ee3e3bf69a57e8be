"""The reminder planner: pure functions from a subject's cycle, its policy, the time, the
recipients and what was already sent, to the reminders due now. No I/O: the scans feed it rows and
write what it returns, with unique keys that make a second write of the same reminder a no-op.

Two rules, for any subject (a kind, an id and its anchor):
- a ladder of day offsets from an anchor date (`plan` for a credential's expiry, `plan_subject`
  for any other subject, e.g. an IDP goal's due date), with the send window below;
- a time-relative reminder `minutes_before` an anchor time (`plan_before`: a check-in).

The ladder's rules, per recipient (each in their own timezone), told for credentials (for
another subject read its anchor date for the expiry; it has no digest):
- a step of the ladder falls on `expires_on + offset_days`; it becomes due at the first opening
  of the send window on or after that date (09:00 local by default; weekends skipped unless the
  policy allows them), and it is only ever sent while the window is open (never at night);
- of the steps due for a recipient, only the latest one goes out; after downtime the earlier
  ones it skipped never go out (one reminder, not a burst); a step already sent is not sent
  again, nor an earlier step once a later one went out;
- the cycle is the expiry date: a renewal (a new expiry) starts a new ladder, and the keys
  include the expiry date;
- a holder who acknowledged the reminder or marked the renewal in progress gets no more holder
  steps in this cycle; managers, HR and watchers still get theirs (escalation);
- a snoozed credential sends nothing before the snooze date (recipient's local date);
- an inactive cycle (offboarded holder, retired type, revoked, superseded, no expiry) sends
  nothing;
- a step whose date lies more than `catch_up_days` in the past is not sent late.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from upward.clock import zone

RECIPIENT_KINDS = ("holder", "manager", "hr_admins", "watchers")
CHANNELS = ("in_app", "email", "webhook")
DEFAULT_CATCH_UP_DAYS = 14


@dataclass(frozen=True)
class Step:
    offset_days: int  # negative: days before expiry; 0: the day it expires; positive: after
    recipients: frozenset[str]
    channels: frozenset[str]
    mandatory: bool = False  # ignores the recipient's email opt-out
    immediate: bool = False  # managers, HR and watchers get it now, not in their daily digest


@dataclass(frozen=True)
class SendWindow:
    start_hour: int = 9
    end_hour: int = 18  # exclusive: 09:00 <= local time < 18:00
    weekends: bool = False

    def allows_day(self, day: date) -> bool:
        return self.weekends or day.weekday() < 5

    def is_open(self, local: datetime) -> bool:
        return self.allows_day(local.date()) and self.start_hour <= local.hour < self.end_hour

    def opening_on_or_after(self, day: date, tz: ZoneInfo) -> datetime:
        """The first opening of the window on `day` or a later allowed day, as an aware time."""
        while not self.allows_day(day):
            day += timedelta(days=1)
        return datetime.combine(day, time(self.start_hour), tzinfo=tz)


DEFAULT_STEPS: tuple[Step, ...] = (
    Step(-90, frozenset({"holder"}), frozenset({"in_app", "email"})),
    Step(-60, frozenset({"holder"}), frozenset({"in_app", "email"})),
    Step(-30, frozenset({"holder", "manager"}), frozenset({"in_app", "email"})),
    Step(-7, frozenset({"holder", "manager"}), frozenset({"in_app", "email"})),
    Step(0, frozenset({"holder", "manager"}), frozenset({"in_app", "email", "webhook"})),
    Step(7, frozenset({"holder", "manager", "hr_admins"}), frozenset({"in_app", "email"})),
    Step(
        30,
        frozenset({"holder", "manager", "hr_admins"}),
        frozenset({"in_app", "email", "webhook"}),
        mandatory=True,
    ),
)


@dataclass(frozen=True)
class Policy:
    steps: tuple[Step, ...] = DEFAULT_STEPS
    window: SendWindow = field(default_factory=SendWindow)
    # the steps latest first (the planner looks for the latest due one)
    descending: tuple[Step, ...] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.steps, key=lambda s: s.offset_days, reverse=True))
        object.__setattr__(self, "descending", ordered)

    @property
    def horizon(self) -> tuple[int, int]:
        """(days before expiry the first step falls, days after expiry the last one falls)."""
        offsets = [s.offset_days for s in self.steps] or [0]
        return max(0, -min(offsets)), max(0, max(offsets))


@dataclass(frozen=True)
class Cycle:
    """One credential's reminder cycle (its current expiry date) and what pauses it."""

    credential_id: uuid.UUID
    expires_on: date | None
    active: bool = True  # holder employed, type active, credential neither revoked nor superseded
    holder_paused: bool = False  # acknowledged / renewal in progress, for this expiry date
    snoozed_until: date | None = None


@dataclass(frozen=True)
class Recipient:
    employee_id: uuid.UUID
    kinds: frozenset[str]  # why they receive it: holder, manager, hr_admins, watchers
    timezone: str


@dataclass(frozen=True)
class Due:
    credential_id: uuid.UUID
    expires_on: date
    offset_days: int
    recipient_id: uuid.UUID
    kinds: frozenset[str]
    channels: frozenset[str]
    mandatory: bool
    digest: bool  # goes into the recipient's daily digest instead of a message of its own
    due_at: datetime

    @property
    def key(self) -> str:
        return reminder_key(
            self.credential_id, self.expires_on, self.offset_days, self.recipient_id
        )


def reminder_key(
    credential_id: uuid.UUID, expires_on: date, offset_days: int, recipient_id: uuid.UUID
) -> str:
    return f"reminder:{credential_id}:{expires_on.isoformat()}:{offset_days:+d}:{recipient_id}"


@dataclass(frozen=True)
class Subject:
    """Anything but a credential that a ladder of day offsets plans for (an IDP goal: its due
    date). A new anchor starts a new cycle, as a renewal does for a credential."""

    kind: str
    id: uuid.UUID
    anchor: date
    active: bool = True
    paused_kinds: frozenset[str] = frozenset()  # recipient kinds that get nothing this cycle
    snoozed_until: date | None = None


@dataclass(frozen=True)
class SubjectDue:
    subject_kind: str
    subject_id: uuid.UUID
    anchor: date | datetime  # a ladder's anchor date, or the time a reminder comes before
    offset_days: int  # the ladder step; 0 for a time-relative reminder
    recipient_id: uuid.UUID
    kinds: frozenset[str]
    channels: frozenset[str]
    mandatory: bool
    due_at: datetime

    @property
    def anchor_at(self) -> datetime:
        """The anchor as a time (a date is its midnight UTC): the reminder log's column."""
        return anchor_time(self.anchor)

    @property
    def key(self) -> str:
        return subject_key(
            self.subject_kind, self.subject_id, self.anchor, self.offset_days, self.recipient_id
        )


def anchor_time(anchor: date | datetime) -> datetime:
    if isinstance(anchor, datetime):
        return anchor.astimezone(UTC)
    return datetime.combine(anchor, time(0), tzinfo=UTC)


def subject_key(
    kind: str, subject_id: uuid.UUID, anchor: date | datetime, offset: int, recipient: uuid.UUID
) -> str:
    """The notification's idempotency key: one per subject, anchor, step and recipient."""
    at = anchor_time(anchor).isoformat() if isinstance(anchor, datetime) else anchor.isoformat()
    return f"reminder:{kind}:{subject_id}:{at}:{offset:+d}:{recipient}"


def plan(
    cycle: Cycle,
    policy: Policy,
    now: datetime,
    recipients: Iterable[Recipient],
    sent: Collection[tuple[int, uuid.UUID]] = (),
    *,
    catch_up_days: int = DEFAULT_CATCH_UP_DAYS,
) -> list[Due]:
    """The reminders due at `now` (aware) for this cycle. `sent` holds (offset_days,
    recipient_id) of the reminders already recorded for this cycle (this expiry date)."""
    if not cycle.active or cycle.expires_on is None or not policy.steps:
        return []
    expires_on = cycle.expires_on
    paused = _HOLDER if cycle.holder_paused else frozenset()
    return [
        Due(
            credential_id=cycle.credential_id,
            expires_on=expires_on,
            offset_days=step.offset_days,
            recipient_id=r.employee_id,
            kinds=got,
            channels=step.channels,
            mandatory=step.mandatory,
            digest="holder" not in got and not step.immediate,
            due_at=due_at,
        )
        for r, step, got, due_at in _ladder(
            expires_on, policy, now, recipients, sent, paused, cycle.snoozed_until, catch_up_days
        )
    ]


_HOLDER = frozenset({"holder"})


def plan_subject(
    subject: Subject,
    policy: Policy,
    now: datetime,
    recipients: Iterable[Recipient],
    sent: Collection[tuple[int, uuid.UUID]] = (),
    *,
    catch_up_days: int = DEFAULT_CATCH_UP_DAYS,
) -> list[SubjectDue]:
    """The ladder's reminders due at `now` for any subject, by the same rules as a credential's
    (send window, latest step only, catch-up limit). They go out at once (no digest)."""
    if not subject.active or not policy.steps:
        return []
    return [
        SubjectDue(
            subject_kind=subject.kind,
            subject_id=subject.id,
            anchor=subject.anchor,
            offset_days=step.offset_days,
            recipient_id=r.employee_id,
            kinds=got,
            channels=step.channels,
            mandatory=step.mandatory,
            due_at=due_at,
        )
        for r, step, got, due_at in _ladder(
            subject.anchor,
            policy,
            now,
            recipients,
            sent,
            subject.paused_kinds,
            subject.snoozed_until,
            catch_up_days,
        )
    ]


def _ladder(
    anchor: date,
    policy: Policy,
    now: datetime,
    recipients: Iterable[Recipient],
    sent: Collection[tuple[int, uuid.UUID]],
    paused: frozenset[str],
    snoozed_until: date | None,
    catch_up_days: int,
) -> Iterable[tuple[Recipient, Step, frozenset[str], datetime]]:
    """(recipient, latest due step, the kinds it reaches them as, when it became due)."""
    for r in recipients:
        kinds = r.kinds - paused if paused else r.kinds
        if not kinds:
            continue
        is_open, today, last_open = _clock_of(now, r.timezone or "UTC", policy.window)
        if not is_open:
            continue
        if snoozed_until is not None and today < snoozed_until:
            continue
        # the latest due step: a step is due once the window has opened on its date or on the
        # next allowed day, i.e. iff its date is at most `last_open`; from the last step back,
        # the first one for these kinds at or below that limit
        limit = (last_open - anchor).days
        latest: Step | None = None
        for step in policy.descending:
            if step.offset_days <= limit and step.recipients & kinds:
                latest = step
                break
        if latest is None:
            continue
        step_day = anchor + timedelta(days=latest.offset_days)
        if (today - step_day).days > catch_up_days:
            continue
        # sent already, or superseded by a later step that went out (a timezone move or a
        # pause can make an earlier step the latest due one again: it stays skipped)
        if any(o >= latest.offset_days for o, who in sent if who == r.employee_id):
            continue
        due_at = policy.window.opening_on_or_after(step_day, zone(r.timezone or "UTC"))
        yield r, latest, kinds & latest.recipients, due_at


MEETING_CHANNELS = frozenset({"in_app", "email"})


def plan_before(
    kind: str,
    subject_id: uuid.UUID,
    starts_at: datetime,
    minutes_before: int,
    now: datetime,
    recipients: Iterable[Recipient],
    sent: Collection[uuid.UUID] = (),
    *,
    channels: frozenset[str] = MEETING_CHANNELS,
) -> list[SubjectDue]:
    """A reminder `minutes_before` an event (a check-in) to each recipient not reminded yet for
    this start time (`sent`): due from then until the event starts, never after (a late scan
    sends nothing for a meeting under way), at any hour (the meeting's time was agreed).
    0 minutes: no reminder. The caller passes only events still going to happen (a cancelled
    or completed meeting has none); a new start time is a new cycle."""
    if minutes_before <= 0:
        return []
    due_at = starts_at - timedelta(minutes=minutes_before)
    if not due_at <= now < starts_at:
        return []
    return [
        SubjectDue(
            subject_kind=kind,
            subject_id=subject_id,
            anchor=starts_at,
            offset_days=0,
            recipient_id=r.employee_id,
            kinds=r.kinds,
            channels=channels,
            mandatory=False,
            due_at=due_at,
        )
        for r in recipients
        if r.employee_id not in sent
    ]


@functools.lru_cache(maxsize=4096)
def _clock_of(now: datetime, timezone: str, window: SendWindow) -> tuple[bool, date, date]:
    """(is the window open, the local date, the latest allowed date whose window opening is
    at or before `now`) for a recipient's zone: the same for every credential of a batch, so
    cached (a batch plans at one `now`)."""
    tz = zone(timezone)
    local = now.astimezone(tz)
    last = local.date()
    if datetime.combine(last, time(window.start_hour), tzinfo=tz) > now:
        last -= timedelta(days=1)
    while not window.allows_day(last):
        last -= timedelta(days=1)
    return window.is_open(local), local.date(), last


def effective_channels(
    channels: Collection[str], *, mandatory: bool, email_enabled: bool
) -> frozenset[str]:
    """The channels a reminder goes out on for one recipient: an email opt-out removes email,
    except from a mandatory step."""
    got = frozenset(channels)
    if not email_enabled and not mandatory:
        got -= {"email"}
    return got


def digest_due(now: datetime, timezone: str, window: SendWindow, delay_minutes: int) -> bool:
    """Whether a recipient's daily digest may go out now: the window is open and at least
    `delay_minutes` have passed since it opened today (time for the day's scan to finish)."""
    local = now.astimezone(zone(timezone))
    if not window.is_open(local):
        return False
    opened = datetime.combine(local.date(), time(window.start_hour), tzinfo=local.tzinfo)
    return local >= opened + timedelta(minutes=delay_minutes)


def scan_range(
    policies: Sequence[Policy], today: date, catch_up_days: int = DEFAULT_CATCH_UP_DAYS
) -> tuple[date, date]:
    """The expiry dates a scan must look at on `today` (the tenant's date; the slack covers
    recipients in other timezones)."""
    before = max((p.horizon[0] for p in policies), default=0)
    after = max((p.horizon[1] for p in policies), default=0)
    # recipients' local dates differ from the tenant's by up to 2 days (UTC+14 vs UTC-12),
    # and a step on a weekend is sent on the next allowed day (up to 2 days later)
    return (
        today - timedelta(days=after + catch_up_days + 4),
        today + timedelta(days=before + 2),
    )
