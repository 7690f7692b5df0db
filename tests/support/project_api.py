"""The project and file endpoints as a test client calls them, and the storage bookkeeping they keep."""
from __future__ import annotations

import sqlalchemy as sa


def problem(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json" and response.get_json()["code"] == code
    return response.get_json()


class ProjectApi:
    def __init__(self, client, headers: dict):
        self.client, self.headers = client, headers

    def post(self, path, body, headers=None):
        return self.client.post(f"/codestudio/{path}", json=body, headers=headers or self.headers)

    def get(self, path, headers=None, **query):
        return self.client.get(f"/codestudio/{path}", query_string=query, headers=headers or self.headers)

    def delete(self, path, headers=None):
        return self.client.delete(f"/codestudio/{path}", headers=headers or self.headers)

    def project(self, name="demo", **fields):
        response = self.post("project/create", {"name": name, **fields})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def file(self, project_id, filename, content):
        response = self.post("file/create", {"project_id": project_id, "filename": filename, "content": content})
        assert response.status_code == 201, response.get_json()
        return response.get_json()


def storage_books(app, client, user: dict) -> dict:
    """The user's storage three ways: the size column summed, the bytes actually stored, and /stats."""
    from app.extensions import db
    from app.models import Project, ProjectFile

    with app.app_context():
        rows = db.session.execute(sa.select(ProjectFile.size, ProjectFile.content).join(Project).where(
            Project.user_id == user["id"])).all()
        db.session.remove()
    stats = client.get("/codestudio/stats", headers=user["headers"]).get_json()
    return {"sizes": sum(size for size, _ in rows), "stored": sum(len(content.encode()) for _, content in rows),
            "stats": stats["quota"]["storage_bytes"]["used"]}


def assert_books_balance(app, client, user: dict) -> dict:
    books = storage_books(app, client, user)
    assert books["sizes"] == books["stored"] == books["stats"], books
    return books
