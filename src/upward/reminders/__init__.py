"""Reminders and notifications: policies, the pure planner, the notification outbox and its
deliveries over in-app, email and webhook channels."""
