"""Persistence: the SQLAlchemy engine, the tables, and repositories over them (no Flask)."""
