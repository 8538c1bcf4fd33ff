"""Clients' use cases, one module per concern; both entry points call them."""
