"""The admin CLI creates users and keys that the API accepts, and revokes them."""


def test_users_create_prints_a_working_key_and_keys_revoke(app, client):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "Cli.User@Example.test", "--tier", "ultra"])
    assert result.exit_code == 0, result.output
    key = result.output.strip()
    assert key.startswith("cs_") and len(key) > 40
    assert client.get("/codestudio/stats", headers={"Authorization": f"Bearer {key}"}).get_json()["tier"] == "ultra"
    listed = runner.invoke(args=["users", "list"]).output
    assert "cli.user@example.test\tultra" in listed
    assert runner.invoke(args=["users", "create", "cli.user@example.test"]).exit_code != 0  # duplicate
    second = runner.invoke(args=["keys", "create", "cli.user@example.test"]).output.strip()
    assert runner.invoke(args=["keys", "revoke", key[:11]]).output.strip() == "revoked 1"
    assert runner.invoke(args=["keys", "revoke", key[:11]]).exit_code != 0  # nothing left to revoke
    assert runner.invoke(args=["users", "create", "not-an-email"]).exit_code != 0
    assert client.get("/codestudio/stats", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert client.get("/codestudio/stats", headers={"Authorization": f"Bearer {second}"}).status_code == 200


def test_set_tier_rejects_unknown_tiers(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["users", "create", "tiered@example.test"])
    assert runner.invoke(args=["users", "set-tier", "tiered@example.test", "gold"]).exit_code != 0
    assert runner.invoke(args=["users", "set-tier", "tiered@example.test", "enterprise"]).exit_code == 0


def test_keys_rotate_revokes_old_keys(app, client):
    runner = app.test_cli_runner()
    old = runner.invoke(args=["users", "create", "rotate@example.test"]).output.strip()
    new = runner.invoke(args=["keys", "rotate", "rotate@example.test"]).output.strip()
    assert new.startswith("cs_") and new != old
    assert client.get("/codestudio/stats", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    assert client.get("/codestudio/stats", headers={"Authorization": f"Bearer {new}"}).status_code == 200


def test_usage_report_is_csv_across_users(app, run, user):
    import csv
    import io

    run(code="print('billed')")
    result = app.test_cli_runner().invoke(args=["usage", "report", "--days", "1"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    mine = next(r for r in rows if int(r["user_id"]) == user["id"])
    assert (mine["tier"], mine["executions"], mine["successes"]) == ("pro", "1", "1")
    assert float(mine["cpu_seconds"]) > 0 and float(mine["cost"]) > 0
