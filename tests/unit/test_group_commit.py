"""The intake's group-commit writer (orchestrator/group_commit.py) against a real SQLite store: every submission is
committed and answered with its own ids, submissions waiting while a commit runs share the next one, a failed batch
fails only its own callers (StoreWriteFailed, the server's 503), and close() commits what was submitted."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import select

from orchestrator.group_commit import GroupCommit, StoreWriteFailed
from orchestrator.store import Store, request_row, requests


def rows_for(n: int, tag: str) -> list[dict]:
    return [request_row(source="api", code="AzureVmOffline", runbook=None, hosts=[f"{tag}-{i}"], mode="apply",
                        requester="test", status="queued", params={"kind": "alert", "tag": tag})
            for i in range(n)]


def stored_ids(store: Store) -> set[str]:
    with store.engine.connect() as c:
        return {r.id for r in c.execute(select(requests.c.id))}


class Gate:
    """Holds the writer inside its first commit until opened, so the next submissions queue behind it."""

    def __init__(self, store: Store) -> None:
        self.entered, self.opened = threading.Event(), threading.Event()
        self.calls: list[int] = []
        self.real = store.insert_requests
        store.insert_requests = self  # type: ignore[method-assign]

    def __call__(self, rows: list[dict]) -> None:
        self.calls.append(len(rows))
        if len(self.calls) == 1:
            self.entered.set()
            assert self.opened.wait(30)
        self.real(rows)


@pytest.fixture
def store(tmp_path) -> Store:
    return Store.open(tmp_path / "state")


def test_concurrent_submits_are_all_committed_each_with_its_own_ids(store):
    writer = GroupCommit(store)
    submitted: dict[int, list[dict]] = {}
    futures = {}
    lock = threading.Lock()

    def submit(n: int) -> None:
        rows = rows_for(1 + n % 3, f"t{n}")
        future = writer.submit(rows)
        with lock:
            submitted[n], futures[n] = rows, future

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n, future in futures.items():
        assert future.result(timeout=30) == [r["id"] for r in submitted[n]]  # its own ids, in its own order
    assert stored_ids(store) == {r["id"] for rows in submitted.values() for r in rows}
    assert 1 <= writer.batches <= 200
    writer.close()


def test_submissions_waiting_for_a_commit_share_the_next_one(store):
    gate = Gate(store)
    writer = GroupCommit(store)
    first = writer.submit(rows_for(1, "first"))
    assert gate.entered.wait(30)
    waiting = [writer.submit(rows_for(2, f"w{n}")) for n in range(50)]
    gate.opened.set()
    first.result(timeout=30)
    assert all(len(f.result(timeout=30)) == 2 for f in waiting)
    assert gate.calls == [1, 100]  # one commit for the 50 that waited
    assert writer.batches == 2
    writer.close()


def test_a_failed_batch_fails_only_its_own_callers(store):
    real, calls = store.insert_requests, []

    def fails_once(rows: list[dict]) -> None:
        calls.append(len(rows))
        if len(calls) == 1:
            raise OSError("disk full")
        real(rows)

    store.insert_requests = fails_once  # type: ignore[method-assign]
    writer = GroupCommit(store)
    lost = rows_for(2, "lost")
    with pytest.raises(StoreWriteFailed) as failed:
        writer.submit(lost).result(timeout=30)
    assert isinstance(failed.value.orig, OSError)
    kept = rows_for(1, "kept")
    assert writer.submit(kept).result(timeout=30) == [kept[0]["id"]]  # the writer goes on with the next batch
    assert stored_ids(store) == {kept[0]["id"]}  # none of the failed batch, all of the next
    writer.close()


def test_close_commits_what_was_submitted_then_refuses(store):
    gate = Gate(store)
    writer = GroupCommit(store)
    first = writer.submit(rows_for(1, "first"))
    assert gate.entered.wait(30)
    queued = [writer.submit(rows_for(1, f"q{n}")) for n in range(10)]
    closing = threading.Thread(target=writer.close)
    closing.start()
    gate.opened.set()
    closing.join(30)
    assert not closing.is_alive()
    ids = [first.result(timeout=0)[0]] + [f.result(timeout=0)[0] for f in queued]  # all done when close returns
    assert stored_ids(store) == set(ids)
    with pytest.raises(StoreWriteFailed):
        writer.submit(rows_for(1, "late")).result(timeout=0)


def test_write_awaits_the_commit_in_an_event_loop_and_wakes_on_commit(store):
    woken: list[int] = []
    writer = GroupCommit(store, on_commit=lambda rows: woken.append(len(rows)))

    async def post_many() -> list[list[str]]:
        return await asyncio.gather(*(writer.write(rows_for(1, f"a{n}")) for n in range(20)))

    results = asyncio.run(post_many())
    assert stored_ids(store) == {ids[0] for ids in results}
    writer.close()  # the wake-up follows each batch's replies in the writer thread: wait for the thread
    assert sum(woken) == 20 and len(woken) == writer.batches
