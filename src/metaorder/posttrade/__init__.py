"""After the trade: what happened to an order, read back from the journal (audit; later drop copy and TCA)."""
