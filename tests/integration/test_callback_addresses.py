"""Where Judge0 callbacks may go, through the API and a worker: non-public addresses refused at
submit (a Judge0 422), an operator's allow-list admitted, and the address checked again when the
worker sends (tests/unit/test_callback_addresses.py: the address rules themselves)."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest

from tests.support.polling import wait_until


@pytest.mark.parametrize("url", [
    "http://100.100.100.200/latest/meta-data", "http://100.64.0.1/", "http://169.254.169.254/latest/meta-data",
    "http://[fec0::1]/", "http://[2002:7f00:1::]:8080/done", "http://[64:ff9b::a9fe:a9fe]/",
    "http://[::ffff:10.0.0.1]/", "http://10.0.0.1/", "http://127.0.0.2:9/", "http://0x7f000002/",
])
def test_submit_refuses_a_callback_to_a_non_public_address(client, user, url):
    response = client.post("/judge0/submissions", json={"source_code": "print(1)", "language_id": 71,
                                                        "callback_url": url}, headers={"X-Auth-Token": user["key"]})
    assert response.status_code == 422, response.get_data(as_text=True)
    body = response.get_json()
    assert list(body) == ["callback_url"] and "not a public address" in body["callback_url"][0], body


def test_submit_accepts_a_callback_the_operator_allows(client, user, worker):
    response = client.post("/judge0/submissions", json={"source_code": "print(1)", "language_id": 71,
                                                        "callback_url": "http://127.0.0.1:9/done"},
                           headers={"X-Auth-Token": user["key"]})
    assert response.status_code == 201, response.get_data(as_text=True)


class _Receiver(BaseHTTPRequestHandler):
    paths: ClassVar[list[str]] = []

    def do_PUT(self):
        self.paths.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_host_that_changes_address_after_submit_is_refused_when_sending(app, client, user, worker):
    """As if DNS answered differently at send time (rebinding): the worker resolves and checks again,
    and never calls an address outside the allow-list, though something listens there."""
    from app.extensions import db
    from app.models import Judge0Submission

    server = HTTPServer(("0.0.0.0", 0), _Receiver)  # reachable at 127.0.0.2 too, were the worker to call it
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_port
        token = client.post("/judge0/submissions", headers={"X-Auth-Token": user["key"]}, json={
            "source_code": "import time; time.sleep(1.5); print(7)", "language_id": 71,
            "callback_url": f"http://127.0.0.1:{port}/accepted"}).get_json()["token"]
        execution_id = token.replace("-", "")
        with app.app_context():
            db.session.get(Judge0Submission, execution_id).callback_url = f"http://127.0.0.2:{port}/rebound"
            db.session.commit()
        refused = f"callback for {execution_id} refused: 127.0.0.2 resolves to 127.0.0.2"
        # every worker consumes the callbacks queue: the batch worker, if started, may be the one
        def logged() -> bool:
            return any(refused in log.read_text() for log in worker["log"].parent.parent.glob("*/worker.log"))
        wait_until(logged, 60, interval=0.1,
                   what="a worker trying the callback")
        assert _Receiver.paths == []
    finally:
        server.shutdown()
