"""The SMS pumping guard: which codes may go by SMS, under hourly budgets in PostgreSQL."""
