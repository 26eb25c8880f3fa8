"""Execution pipeline: market view, strategies, router, child orders (sans-IO)."""
