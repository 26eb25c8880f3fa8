"""Order intake: normalization, pre-trade risk, aggregation, netting, allocation and the journal."""
