"""sim.experiments.executors: every executor hands back the same results for the same tasks."""

from __future__ import annotations

import operator

import pytest

from sim.experiments import executors

TASKS = [(i, operator.pow, (i, 3)) for i in range(7)]


@pytest.mark.parametrize("executor", ["serial", "process"])
def test_every_task_is_collected_once_under_its_key(executor):
    got: dict[int, int] = {}

    def collect(key, value):
        assert key not in got
        got[key] = value

    executors.run(TASKS, executor, collect, workers=2)
    assert got == {i: i**3 for i in range(7)}


def test_a_failing_task_stops_the_pool_and_raises():
    tasks = [*TASKS, ("bad", operator.truediv, (1, 0))]
    with pytest.raises(ZeroDivisionError):
        executors.run(tasks, "process", lambda *_: None, workers=2)


def test_serial_tasks_see_the_month_sink_only_while_running():
    seen = []
    executors.run([(0, executors.month_sink, ())], "serial", lambda k, v: seen.append(v),
                  on_months=print)
    assert seen == [print] and executors.month_sink() is None


def test_an_unknown_executor_is_refused():
    with pytest.raises(ValueError, match="serial, process or dask"):
        executors.run(TASKS, "threads", lambda *_: None)
