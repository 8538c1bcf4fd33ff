"""plans' use cases: each takes a command and the unit of work it runs in."""
