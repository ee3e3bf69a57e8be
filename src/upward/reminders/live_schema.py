"""The live inbox: `notificationAdded`, a subscription over the WebSocket (see graphql/ws.py).

Thin like every schema module: who may follow which inbox is `service.inbox_owner`, what an
event shows is `service.inbox_notification`, published by `outbox.create_notifications`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry
from strawberry.types import Info

from upward.graphql import live
from upward.graphql.relay import optional_global_id
from upward.graphql.ws import live_connection, message_id
from upward.reminders import service
from upward.reminders.outbox import LIVE_TOPIC
from upward.reminders.schema import Notification, notification_obj


@strawberry.type
class RemindersSubscription:
    @strawberry.subscription(
        description="Each new notification of an in-app inbox, as `notifications` lists it, "
        "while you are subscribed (WebSocket, graphql-transport-ws). Your own inbox; an API "
        "key (`notifications:read`) names the employee with `employeeId` (required for keys; "
        "a person may only pass their own: FORBIDDEN otherwise). At most once: subscribe, "
        "then query `notifications` to catch up on what came before or while disconnected."
    )
    async def notification_added(
        self, info: Info, employee_id: strawberry.ID | None = None
    ) -> AsyncGenerator[Notification, None]:
        conn = live_connection(info)
        wanted = optional_global_id(employee_id, "Employee", field="employeeId")
        async with conn.event(info) as ctx:
            async with ctx.session() as s:
                owner = await service.inbox_owner(s, ctx.require_principal(), wanted)
            tenant_id = ctx.require_principal().tenant_id
        channel = live.channel(tenant_id, LIVE_TOPIC, owner)
        async with aclosing(conn.follow(info, channel)) as events:
            async for ctx, msg in events:
                nid = message_id(msg)
                if nid is None:
                    continue
                async with ctx.session() as s:
                    row = await service.inbox_notification(s, ctx.require_principal(), owner, nid)
                if row is not None:
                    yield notification_obj(row)
