"""Production settings refuse what is only fit for development."""
import pytest


def test_production_refuses_default_or_short_secret_keys(monkeypatch, tmp_path):
    from app import create_app
    from config.settings import DEV_SECRET, InsecureConfig

    monkeypatch.setenv("CODESTUDIO_INSTANCE", str(tmp_path))  # not the checkout's instance dir
    for secret in (DEV_SECRET, "", "short"):
        with pytest.raises(InsecureConfig):
            create_app({"ENV_NAME": "production", "SECRET_KEY": secret})
