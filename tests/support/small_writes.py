"""Another user's tiny write, over and over, in a process of its own (as another API process would
make it): prints how many there were and the longest any one took, as JSON, once its standard
input closes (or after MAX_SECONDS).

Usage: python tests/support/small_writes.py USER_ID   (in the environment of the API under test)"""
from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

MAX_SECONDS = 300


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    import sqlalchemy as sa

    from app import create_app
    from app.extensions import db
    from app.models import User

    user_id, stop = int(sys.argv[1]), threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    longest, count, errors, ends = 0.0, 0, [], time.monotonic() + MAX_SECONDS
    with create_app({"TESTING": True}).app_context():
        db.session.execute(sa.select(User.id).where(User.id == user_id)).one()  # connected before the clock starts
        db.session.rollback()
        print("ready", flush=True)
        while not stop.is_set() and time.monotonic() < ends:
            started = time.monotonic()
            try:
                db.session.execute(sa.update(User).where(User.id == user_id).values(tier=User.tier))
                db.session.commit()
            except Exception as exc:  # SQLite's "database is locked" after its busy timeout: an endless wait
                db.session.rollback()
                errors.append(repr(exc)[:200])
            longest, count = max(longest, time.monotonic() - started), count + 1
            time.sleep(0.005)  # pacing: a steady stream of small writes, not a busy loop
    print(json.dumps({"count": count, "longest": longest, "errors": errors[:3]}), flush=True)


if __name__ == "__main__":
    main()
