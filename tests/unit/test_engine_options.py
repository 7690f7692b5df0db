"""The database engine's options: a PostgreSQL server that stops answering is given up on in
seconds (libpq's keepalives and TCP user timeout), SQLite needs none of that."""
from config.settings import engine_options


def test_postgresql_connections_are_bounded_in_time():
    options = engine_options("postgresql+psycopg://db.internal/codestudio")
    assert options["pool_pre_ping"] is True
    args = options["connect_args"]
    assert args["connect_timeout"] == 10 and args["keepalives"] == 1 and args["tcp_user_timeout"] == 30000
    assert args["keepalives_idle"] + args["keepalives_interval"] * args["keepalives_count"] <= 60


def test_sqlite_takes_no_network_options():
    assert engine_options("sqlite:////tmp/codestudio.db") == {"pool_pre_ping": True}
