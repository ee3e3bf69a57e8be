"""Rate limits: a cost budget per window for each key, each user and each tenant, in Redis.

GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp per bucket): a
bucket of `limit` cost points refills continuously over `window` seconds, so a client may burst
up to its whole budget and then goes at the refill rate. A request is charged its cost (1 +
the objects it may return, more for mutations; `cost.request_cost`) against every bucket it
belongs to, in one Lua script: either all of them have room and all are charged, or none is
charged and the request is refused with RATE_LIMITED and `retryAfter` (seconds). Buckets are
per tenant (and per key or user inside it), so one tenant's burst never spends another's
budget. Redis's clock decides, so every API process agrees.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from upward import cache
from upward.auth.principal import Principal
from upward.errors import RateLimited
from upward.settings import Settings

log = logging.getLogger(__name__)

# KEYS: the buckets. ARGV: cost, then (limit, window ms) per bucket.
# Returns {allowed, index of the tightest bucket, its remaining, reset ms, retry ms}.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cost = tonumber(ARGV[1])
local n = #KEYS
local tats = {}
local worst, worst_remaining, worst_reset, retry = 1, nil, 0, 0
local allowed = 1
for i = 1, n do
  local limit = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  local interval = window / limit
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local new_tat = tat + cost * interval
  local allow_at = new_tat - window
  local remaining, reset
  if allow_at > now then
    allowed = 0
    if allow_at - now > retry then retry = allow_at - now end
    remaining = math.floor((window - (tat - now)) / interval)
    reset = tat - now
  else
    remaining = math.floor((window - (new_tat - now)) / interval)
    reset = new_tat - now
  end
  if remaining < 0 then remaining = 0 end
  tats[i] = new_tat
  if worst_remaining == nil or remaining < worst_remaining then
    worst, worst_remaining, worst_reset = i, remaining, reset
  end
end
if allowed == 1 then
  for i = 1, n do
    redis.call('SET', KEYS[i], tostring(tats[i]), 'PX', math.ceil(tats[i] - now) + 1000)
  end
end
return {allowed, worst, worst_remaining, math.ceil(worst_reset), math.ceil(retry)}
"""


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str  # what it limits: key, user, tenant, address
    key: str
    limit: int


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    cost: int
    bucket: Bucket  # the tightest one: it names the limit in the headers
    remaining: int
    reset_seconds: int
    retry_after: int
    window: int

    def headers(self) -> list[tuple[bytes, bytes]]:
        policy = f'{self.bucket.limit};w={self.window};comment="cost per {self.bucket.name}"'
        out = [
            (b"ratelimit-limit", str(self.bucket.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset_seconds).encode()),
            (b"ratelimit-policy", policy.encode()),
        ]
        if not self.allowed:
            out.append((b"retry-after", str(self.retry_after).encode()))
        return out

    @property
    def message(self) -> str:
        return (
            f"rate limit exceeded: this request costs {self.cost} and the {self.bucket.name}'s "
            f"budget ({self.bucket.limit} per {self.window} s) has {self.remaining} left; "
            f"retry after {self.retry_after} s"
        )

    def error(self) -> RateLimited:
        """The RATE_LIMITED error of a refused request (`retryAfter` in seconds)."""
        return RateLimited(
            self.message,
            retryAfter=self.retry_after,
            cost=self.cost,
            limitedBy=self.bucket.name,
        )


def buckets(settings: Settings, principal: Principal | None, client_ip: str | None) -> list[Bucket]:
    if principal is None:
        return [
            Bucket("address", cache.key("rl", "ip", client_ip or "-"), settings.rate_cost_anonymous)
        ]
    tenant = Bucket(
        "tenant", cache.key("rl", "t", principal.tenant_id), settings.rate_cost_per_tenant
    )
    if principal.kind == "service":
        own = Bucket(
            "key",
            cache.key("rl", "t", principal.tenant_id, "k", principal.api_key_id),
            settings.rate_cost_per_key,
        )
    else:
        own = Bucket(
            "user",
            cache.key("rl", "t", principal.tenant_id, "u", principal.employee_id),
            settings.rate_cost_per_user,
        )
    return [own, tenant]


_script: dict[int, Any] = {}


async def charge(
    settings: Settings, principal: Principal | None, client_ip: str | None, cost: int
) -> Decision | None:
    """Charge `cost` to the request's buckets. None when limits are off, or when Redis cannot
    be reached (fail open: the limits protect the service, they must not take it down)."""
    if not settings.rate_limits:
        return None
    bs = buckets(settings, principal, client_ip)
    window_ms = settings.rate_window_seconds * 1000
    client = cache.redis()
    script = _script.get(id(client))
    if script is None:
        script = _script[id(client)] = client.register_script(_GCRA)
    args: list[Any] = [cost]
    for b in bs:
        args += [b.limit, window_ms]
    try:
        allowed, worst, remaining, reset_ms, retry_ms = await script(
            keys=[b.key for b in bs], args=args
        )
    except Exception:
        log.warning("rate limiter unavailable: request not limited", exc_info=True)
        return None
    return Decision(
        allowed=bool(allowed),
        cost=cost,
        bucket=bs[int(worst) - 1],
        remaining=int(remaining),
        reset_seconds=math.ceil(int(reset_ms) / 1000),
        retry_after=max(1, math.ceil(int(retry_ms) / 1000)),
        window=settings.rate_window_seconds,
    )


async def enforce(
    settings: Settings, principal: Principal | None, client_ip: str | None, cost: int
) -> Decision | None:
    """`charge`, raising RATE_LIMITED when a bucket is empty (for transports without a
    response to put the refusal in: SCIM, subscriptions)."""
    decision = await charge(settings, principal, client_ip, cost)
    if decision is not None and not decision.allowed:
        raise decision.error()
    return decision
