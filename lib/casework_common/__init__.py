"""Plumbing shared by every casework service: configuration, event envelope, auth,
telemetry, storage helpers, the outbox relay, and the gRPC/nameko process runtimes.

Nothing here knows a service's domain; services depend on it, never the reverse.
"""
