"""A Dask run's results are fetched once, however long they take to move (reviewer S13 R1).

``DaskExecutor`` watches the cluster while it fetches each finished task's result (a worker lost
between finishing a task and handing over its result must not hang the run). The first version of
that watch put a timeout of one look at the cluster (``_WATCH_EVERY``, 1 s) on the fetch itself:
distributed cancels a fetch that times out, so a result that took longer than a look to move was
fetched again and again (25 restarts of a 256 MB result in one run, which had not finished after
40 s where a plain fetch took under 10 s). Here a look is 1 ms, far shorter than moving 16 MB
takes, so with a timed-out fetch restarted every look the map never finishes."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("distributed")

pytestmark = pytest.mark.slow

from optimizer.workflow import executor  # noqa: E402

SIZE = 16_000_000  # bytes of each task's result


def test_results_slower_to_move_than_a_look_at_the_cluster_arrive(monkeypatch):
    monkeypatch.setattr(executor, "_WATCH_EVERY", 0.001)
    got: dict[str, object] = {}

    def run() -> None:
        try:
            with executor.DaskExecutor.local(1) as ex:
                # bytes(n): n zero bytes; a builtin, so the workers need nothing of this module
                got["results"] = ex.map(bytes, [SIZE, SIZE + 1, SIZE + 2], chunksize=1)
                got["get"] = ex.get({"a": (bytes, SIZE)}, "a")
        except BaseException as e:  # reported below, in the test's own thread
            got["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(120)  # a plain fetch of these takes a second or two, the cluster's start a few more
    assert not t.is_alive(), "the results never arrived: each fetch restarted at every look"
    assert "error" not in got, got.get("error")
    assert [len(r) for r in got["results"]] == [SIZE, SIZE + 1, SIZE + 2]
    assert len(got["get"]) == SIZE
