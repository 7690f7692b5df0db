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
