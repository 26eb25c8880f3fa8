"""Simulated venues: lit order books and dark midpoint pools in a market that reacts to our orders."""
