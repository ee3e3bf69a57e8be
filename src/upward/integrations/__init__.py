"""Outbound integrations: channels that push notifications to systems a tenant runs.

Each channel module is database-free core logic (signing, target checks, one attempt); the
delivery records, scheduling and retries live with the notification services and actors.
"""
