"""Operations: the embedded PostgreSQL, migrations and metrics."""
