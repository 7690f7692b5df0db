"""Infrastructure faults become 503 problems, and long waits become 202s."""
import pytest


@pytest.fixture
def app_with(stack_env):
    from app import create_app

    made = []

    def make(**config):
        flask_app = create_app({"TESTING": True, **config})
        made.append(flask_app)
        return flask_app

    yield make
    for flask_app in made:
        with flask_app.app_context():
            from app.extensions import db

            db.engine.dispose()


def test_broker_down_is_503(app, app_with, user, tmp_path):
    dead = f"unix://{tmp_path}/nobody.sock"
    broken = app_with(REDIS_URL=dead, CELERY_BROKER_URL=dead.replace("unix://", "redis+socket://"))
    response = broken.test_client().post("/codestudio/run", json={"language": "python", "code": "1"},
                                         headers=user["headers"])
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "broker_unavailable"
    ready = broken.test_client().get("/readyz")
    assert ready.status_code == 503 and "redis" in ready.get_json()["detail"]
    app.extensions["celery"].set_default()


def test_database_down_is_503_without_a_stack_trace(app, app_with, user):
    broken = app_with(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://postgres@127.0.0.1:1/nowhere",
                      SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}})
    response = broken.test_client().get("/codestudio/executions", headers=user["headers"])
    assert response.status_code == 503 and response.get_json()["code"] == "database_unavailable"
    assert "Traceback" not in response.get_data(as_text=True)
    assert broken.test_client().get("/readyz").status_code == 503
    app.extensions["celery"].set_default()


def test_a_run_longer_than_the_wait_cap_answers_202(app, app_with, user, worker):
    impatient = app_with(RUN_WAIT_CAP_SECONDS=1)
    client = impatient.test_client()
    response = client.post("/codestudio/run", json={"language": "python", "code": "import time; time.sleep(3)"},
                           headers=user["headers"])
    assert response.status_code == 202, response.get_json()
    assert response.headers["Location"].endswith(response.get_json()["id"])
    app.extensions["celery"].set_default()
