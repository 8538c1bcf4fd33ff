"""Intake's use cases, one module per aggregate. Each takes a command (a frozen
dataclass named for what it does) and the unit of work it runs in, which carries the
caller, the moment, the trace and the id factory; `casework_intake.services` is their
one import point."""
