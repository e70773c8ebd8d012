"""Load test for a running platform (`make run`, then `make load`).

Each simulated user signs in with its own sample account, names its own tenant, and does what people
and client apps do, in this mix: list with filters 40%, retrieve 20%, create 10%, status transitions
20%, analytics 10%. A 429 is the rate limiter doing its job: it is counted as such, not as a failure.

    locust -f locustfile.py --headless -H http://127.0.0.1:8000 -u 20 -r 5 -t 60s
"""

import itertools
import random
import threading
from typing import Any

from locust import HttpUser, between, task

TENANTS = ("acme", "globex", "initech")
# Accounts `manage.py load_sample_data` creates in every tenant (password below).
LOGINS = ("manager", "dev1", "dev2", "dev3", "dev4", "admin")
PASSWORD = "demo-password-1"  # the sample data's published password
_accounts = itertools.cycle([(login, tenant) for tenant in TENANTS for login in LOGINS])
_accounts_lock = threading.Lock()


class PlatformUser(HttpUser):
    wait_time = between(0.05, 0.3)

    def on_start(self) -> None:
        with _accounts_lock:
            login, tenant_slug = next(_accounts)
        email = f"{login}@{tenant_slug}.example"
        # Members may move only tasks they reported or are assigned to; managers and admins any task.
        self.moves_any_task = login in ("manager", "admin")
        tokens = self.client.post("/api/v1/auth/token/", json={"email": email, "password": PASSWORD}).json()
        self.client.headers["Authorization"] = f"Bearer {tokens['access']}"
        me = self.client.get("/api/v1/me/", name="/me/").json()
        tenant = next(m for m in me["memberships"] if m["tenant_slug"] == tenant_slug)
        self.client.headers["X-Tenant-ID"] = tenant["tenant_id"]
        self.projects = [
            p["id"] for p in self.client.get("/api/v1/projects/", name="/projects/").json()["results"]
        ]
        self.task_ids: list[str] = []

    def _get(self, path: str, *, name: str, **params: Any) -> dict[str, Any] | None:
        with self.client.get(path, params=params, name=name, catch_response=True) as response:
            if response.status_code == 429:
                response.success()  # intended: the limiter answered
                return None
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return None
            return response.json()

    @task(40)
    def list_with_filters(self) -> None:
        params = random.choice(
            [
                {"status": "IN_PROGRESS"},
                {"assignee": "me"},
                {"priority": "HIGH", "ordering": "-updated_at"},
                {"project": random.choice(self.projects)} if self.projects else {},
                {"q": "fix", "ordering": "due_at"},
            ]
        )
        page = self._get("/api/v1/tasks/", name="/tasks/ (filtered)", **params)
        if page:
            self.task_ids = [row["id"] for row in page["results"]][:50] or self.task_ids

    @task(20)
    def retrieve(self) -> None:
        if self.task_ids:
            self._get(f"/api/v1/tasks/{random.choice(self.task_ids)}/", name="/tasks/{id}/")

    @task(10)
    def create(self) -> None:
        if not self.projects:
            return
        body = {"project": random.choice(self.projects), "title": f"Load test task {random.randrange(10**9)}"}
        with self.client.post(
            "/api/v1/tasks/", json=body, name="/tasks/ (create)", catch_response=True
        ) as response:
            if response.status_code == 201:
                self.task_ids.append(response.json()["id"])
            elif response.status_code == 429:
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")

    @task(20)
    def transition(self) -> None:
        """Move one of my tasks on; a manager or admin with none (they are rarely assignees) moves any
        task, as a lead triaging the board does. `allowed_transitions` is the lifecycle's answer; the
        role's is this user's own (see moves_any_task)."""
        status = random.choice(["OPEN", "IN_PROGRESS", "BLOCKED"])  # DONE work is only ever reopened
        page = self._get("/api/v1/tasks/", name="/tasks/ (mine)", assignee="me", status=status, page_size=20)
        candidates = [row for row in (page or {}).get("results", []) if row["allowed_transitions"]]
        if not candidates and self.moves_any_task:
            page = self._get("/api/v1/tasks/", name="/tasks/ (to move)", status=status, page_size=20)
            candidates = [row for row in (page or {}).get("results", []) if row["allowed_transitions"]]
        if not candidates:
            return
        chosen = random.choice(candidates)
        # DONE → OPEN (reopen) is for managers; everyone may move forward.
        targets = [
            t for t in chosen["allowed_transitions"] if not (chosen["status"] == "DONE" and t == "OPEN")
        ]
        if not targets:
            return
        with self.client.patch(
            f"/api/v1/tasks/{chosen['id']}/",
            json={"status": random.choice(targets)},
            headers={"If-Match": f'"{chosen["version"]}"'},
            name="/tasks/{id}/ (transition)",
            catch_response=True,
        ) as response:
            # 412: someone else changed the task since we read it; the client would re-read. Not a failure.
            if response.status_code in (200, 412, 429):
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")

    @task(10)
    def analytics(self) -> None:
        if self.projects:
            self._get(
                f"/api/v1/analytics/projects/{random.choice(self.projects)}/",
                name="/analytics/projects/{id}/",
            )
