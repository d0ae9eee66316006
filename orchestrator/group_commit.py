"""Group commit of new requests: one thread owns the store's writes of the intake, many callers share a commit.

A caller submits the rows of one alert and waits on a future; the writer thread takes every submission waiting
(up to `max_batch`), inserts them in one transaction (`Store.insert_requests`: WAL, synchronous=FULL, so the commit
is on disk when it returns), then resolves each future with its own request ids. While one batch commits, the
next one gathers: many alerts per commit under load, one commit per alert when idle (no added wait).

A batch that fails (store locked, disk full, database down) fails exactly its own futures, with StoreWriteFailed
(the server answers 503 with Retry-After); the next batch is tried afresh. `close()` commits what is queued, then
stops the thread; a submit after close fails at once.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future

from .store import Store

log = logging.getLogger("remediate.store")
_STOP = object()


class StoreWriteFailed(Exception):
    """The batch holding these rows was not committed (nothing of it is in the store)."""

    def __init__(self, orig: BaseException) -> None:
        super().__init__(f"{type(orig).__name__}: {str(orig)[:300]}")
        self.orig = orig


class GroupCommit:
    def __init__(self, store: Store, *, max_batch: int = 512,
                 on_commit: Callable[[list[dict]], None] | None = None) -> None:
        self.store = store
        self.max_batch = max_batch
        self.on_commit = on_commit  # called in the writer thread with the rows of each committed batch
        self.batches = 0  # commits made (tests and metrics: rows / batches is the grouping)
        self._queue: queue.SimpleQueue[tuple[list[dict], Future[list[str]]] | object] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="remediate-group-commit", daemon=True)
        self._thread.start()

    def submit(self, rows: list[dict]) -> Future[list[str]]:
        """Queue `rows` (built by store.request_row); the future resolves with their ids once committed."""
        future: Future[list[str]] = Future()
        with self._lock:
            if self._closed:
                future.set_exception(StoreWriteFailed(RuntimeError("the writer is closed")))
                return future
            self._queue.put((rows, future))
        return future

    async def write(self, rows: list[dict]) -> list[str]:
        """Submit and wait without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(rows))

    def close(self, timeout: float = 30.0) -> None:
        """Commit everything already submitted, then stop the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[tuple[list[dict], Future[list[str]]]] = []
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stopping = True  # submissions before the stop are still in this batch or already taken
                else:
                    batch.append(item)  # type: ignore[arg-type]
                if stopping or len(batch) >= self.max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._commit(batch)

    def _commit(self, batch: list[tuple[list[dict], Future[list[str]]]]) -> None:
        # from here a future cannot be cancelled; a caller that went away before (no reply sent) is left out
        batch = [(submitted, future) for submitted, future in batch if future.set_running_or_notify_cancel()]
        rows = [row for submitted, _ in batch for row in submitted]
        try:
            self.store.insert_requests(rows)
        except Exception as exc:  # noqa: BLE001 - every error fails this batch's callers, never the writer
            log.error("a batch of %d request(s) was not committed: %s", len(rows), str(exc)[:300])
            for _, future in batch:
                future.set_exception(StoreWriteFailed(exc))
            return
        self.batches += 1
        for submitted, future in batch:
            future.set_result([row["id"] for row in submitted])
        if self.on_commit is not None:
            try:
                self.on_commit(rows)
            except Exception:  # noqa: BLE001 - a wake-up that fails must not fail the committed requests
                log.exception("on_commit failed")
