"""feedback's use cases: each takes a command (or a fact read from an event) and the
unit of work it runs in."""
