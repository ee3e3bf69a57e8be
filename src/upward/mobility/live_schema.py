"""Live applications of a posting: `postingApplicationsChanged`, a subscription over the
WebSocket (see graphql/ws.py).

Thin like every schema module: who may follow a posting is `applications.watch_posting`, what
an event shows is `applications.watched_application`, published by `applications._announce`.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry
from strawberry.types import Info

from upward.graphql import live
from upward.graphql.relay import expect_global_id
from upward.graphql.ws import live_connection, message_id
from upward.mobility import applications as apps
from upward.mobility.applications_schema import Application, application_obj


@strawberry.enum(description="What happened to an application.")
class ApplicationChangeKind(enum.Enum):
    CREATED = "created"
    STAGE_CHANGED = "stage_changed"
    WITHDRAWN = "withdrawn"


@strawberry.type(description="An application of a posting you follow changed.")
class ApplicationChange:
    kind: ApplicationChangeKind
    application: Application = strawberry.field(
        description="As `applications` returns it now (its current stage)."
    )


@strawberry.type
class ApplicationsSubscription:
    @strawberry.subscription(
        description="Each application to a posting created, moved to another stage or "
        "withdrawn, while you are subscribed (WebSocket, graphql-transport-ws). For those who "
        "read all of the posting's applications: its hiring manager and HR (an API key: "
        "`mobility:read`); NOT_FOUND for a posting you cannot see, FORBIDDEN for one whose "
        "applications are not yours to read. At most once: subscribe, then query "
        "`applications(filter: {postingId})` to catch up."
    )
    async def posting_applications_changed(
        self, info: Info, posting_id: strawberry.ID
    ) -> AsyncGenerator[ApplicationChange, None]:
        conn = live_connection(info)
        raw = expect_global_id(posting_id, "JobPosting", field="postingId")
        async with conn.event(info) as ctx:
            async with ctx.session() as s:
                await apps.watch_posting(s, ctx.require_principal(), raw)
            tenant_id = ctx.require_principal().tenant_id
        channel = live.channel(tenant_id, apps.LIVE_TOPIC, raw)
        async with aclosing(conn.follow(info, channel)) as events:
            async for ctx, msg in events:
                app_id = message_id(msg)
                if app_id is None or msg.get("c") not in apps.CHANGES:
                    continue
                async with ctx.session() as s:
                    row = await apps.watched_application(s, ctx.require_principal(), raw, app_id)
                if row is not None:
                    yield ApplicationChange(
                        kind=ApplicationChangeKind(msg["c"]), application=application_obj(ctx, row)
                    )
