"""Fan-out of job progress to the WatchJob streams that listen to it."""

from __future__ import annotations

import queue
import threading
from collections import defaultdict
from dataclasses import dataclass

from plugin_server.jobs import ClipRecord


@dataclass(frozen=True)
class JobEvent:
    job_id: str
    job_state: str
    clip: ClipRecord | None = None  # a copy: the worker keeps changing its own
    message: str = ""


class EventHub:
    """Each watcher gets its own bounded queue; a watcher too slow to keep up loses step events,
    never its own liveness (it also polls the store when nothing arrives)."""

    def __init__(self, per_watcher: int = 1024):
        self._lock = threading.Lock()
        self._watchers: dict[str, set[queue.Queue]] = defaultdict(set)
        self._per_watcher = per_watcher

    def subscribe(self, job_id: str) -> queue.Queue:
        watcher: queue.Queue = queue.Queue(self._per_watcher)
        with self._lock:
            self._watchers[job_id].add(watcher)
        return watcher

    def unsubscribe(self, job_id: str, watcher: queue.Queue) -> None:
        with self._lock:
            watchers = self._watchers.get(job_id)
            if watchers is not None:
                watchers.discard(watcher)
                if not watchers:
                    del self._watchers[job_id]

    def publish(self, event: JobEvent) -> None:
        with self._lock:
            watchers = list(self._watchers.get(event.job_id, ()))
        for watcher in watchers:
            try:
                watcher.put_nowait(event)
            except queue.Full:
                pass
