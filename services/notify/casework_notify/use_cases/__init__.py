"""Notify's use cases beyond the inbox's own (`casework_notify.services`): reminders,
e-mail, partner webhooks, preferences and escalation, messages to clients."""
