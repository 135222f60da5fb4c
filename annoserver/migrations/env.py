"""Alembic environment: runs on the connection the caller provides, or on the configured URL."""

from alembic import context
from sqlalchemy import create_engine

from annoserver.store.tables import Base

config = context.config


def run() -> None:
    """Run migrations online; annoserver never needs offline SQL scripts."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()


run()
