"""Results: record types, the SQL store (SQLite default, any SQLAlchemy URL), schema migrations."""
