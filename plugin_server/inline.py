"""Timelines sent inline: the server's copy of each, one folder per job in its state dir.

Only the job's own run reads its copy: each take after the first, and every regeneration of its
clips, reads the timeline the job wrote, and GetJob, WatchJob and GetJobResult read the store
and the written files. So the copy goes when the job ends, with the media extracted from an
.otioz copy unless a timeline the job wrote names them. Kept for good, they took the state dir's
disk for as long as their job was each timeline's latest writer, which is never pruned.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from plugin_server.jobs import JobRecord, JobStore
from v2a.files import entries


def inline_timelines_dir(state_dir: Path) -> Path:
    """Where timelines sent inline are kept, one folder per job."""
    return state_dir / "timelines"


def forget_copy(inline_dir: Path, job: JobRecord) -> None:
    """Remove the copy an ended job was sent inline, if it was (nothing happens otherwise)."""
    remove_inline_timeline(inline_dir / job.job_id, keep_bundle_media=wrote_outside_a_bundle(job))


def forget_copies_of_ended_jobs(inline_dir: Path, store: JobStore) -> list[str]:
    """Remove the copies of jobs that ended (a stop between a job's end and the removal, an
    older version that kept them) or that the store never took; the ids of those removed.
    Only while no request is served: a CreateJob in flight has a copy and no job yet."""
    removed = []
    for folder in (path for path in entries(inline_dir) if path.is_dir()):
        job = store.get(folder.name)
        if job is None or job.terminal:
            remove_inline_timeline(folder, keep_bundle_media=bool(job) and wrote_outside_a_bundle(job))
            removed.append(folder.name)
    return removed


def wrote_outside_a_bundle(job: JobRecord) -> bool:
    """Whether the job wrote a timeline that is not a bundle: written from a bundle, it names
    the media extracted from it (a bundle written carries its own copy)."""
    written = (job.result.get("timeline_path", ""), job.result.get("fallback_otio_path", ""))
    return any(path and not path.lower().endswith((".otioz", ".otiod")) for path in written)


def remove_inline_timeline(folder: Path, keep_bundle_media: bool = False) -> None:
    """Delete a job's inline timeline folder and, for a bundle, the media extracted from it,
    which only that job read (the copy's path names its extraction), unless a timeline the job
    wrote refers to them. Each inline .otioz job left a copy of its media in the cache before."""
    if not keep_bundle_media:
        from otio_adapters.media_refs import remove_otioz_extraction

        for path in entries(folder):
            if path.suffix.lower() == ".otioz" and path.is_file():
                remove_otioz_extraction(str(path))
    shutil.rmtree(folder, ignore_errors=True)

