"""The stage clock (plume_node/stage_cpu.py) counts CPU, not wall time, once per second spent.

Work is a busy loop run until the thread's own CPU clock has advanced by a
fixed amount, so the figures do not depend on how loaded the machine is: a
test asserts what was charged against what was spent, never a duration.
"""

from __future__ import annotations

import threading
import time

import trio

from plume_node.stage_cpu import Stage, StageClock

WORK_S = 0.05  # thread CPU burnt by one unit of work
SLACK_S = 0.02  # bookkeeping around the work (clock reads, a lock, trio's step)


def burn(seconds: float = WORK_S) -> None:
    """Spend `seconds` of this thread's CPU."""
    until = time.thread_time() + seconds
    while time.thread_time() < until:
        pass


def charged(clock: StageClock) -> dict[Stage, float]:
    return {stage: seconds for stage, seconds in clock.snapshot().items() if seconds}


def test_busy_work_is_charged_and_sleep_is_not() -> None:
    clock = StageClock()
    with clock.measure(Stage.BUILD):
        burn()
    with clock.measure(Stage.RPC):
        time.sleep(0.3)  # wall time, no CPU
    seconds = clock.snapshot()
    assert WORK_S <= seconds[Stage.BUILD] < WORK_S + SLACK_S
    assert seconds[Stage.RPC] < SLACK_S
    assert set(charged(clock)) <= {Stage.BUILD, Stage.RPC}


def test_nested_stages_are_exclusive() -> None:
    clock = StageClock()
    spent_from = time.thread_time()
    with clock.measure(Stage.CONSENSUS):
        burn()
        with clock.measure(Stage.VALIDATE):
            burn(2 * WORK_S)
        burn()
    spent = time.thread_time() - spent_from
    seconds = clock.snapshot()
    assert 2 * WORK_S <= seconds[Stage.VALIDATE] < 2 * WORK_S + SLACK_S
    assert 2 * WORK_S <= seconds[Stage.CONSENSUS] < 2 * WORK_S + SLACK_S
    assert sum(seconds.values()) <= spent  # every second counted at most once


def test_an_exception_still_charges_the_stage() -> None:
    clock = StageClock()
    try:
        with clock.measure(Stage.COMMIT):
            burn()
            raise ValueError("boom")
    except ValueError:
        pass
    assert clock.snapshot()[Stage.COMMIT] >= WORK_S


def test_worker_threads_add_their_own_cpu() -> None:
    clock = StageClock()

    def worker() -> None:
        with clock.measure(Stage.RPC):
            burn()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 4 * WORK_S <= clock.snapshot()[Stage.RPC] < 4 * WORK_S + 4 * SLACK_S


async def test_task_trees_are_charged_to_their_tag() -> None:
    """A tagged task and its children are counted by the instrument; untagged
    tasks and another clock's tasks are not; `measure` inside a tagged task
    takes its stretch out of the task's stage; awaiting costs nothing."""
    clock, other = StageClock(), StageClock()

    async def child() -> None:
        burn()

    async def tagged_root() -> None:
        burn()
        await trio.sleep(0.2)  # waiting: no CPU
        with clock.measure(Stage.BUILD):
            burn()
        async with trio.open_nursery() as inner:
            inner.start_soon(child)  # inherits the tag

    async def untagged() -> None:
        burn()

    async with trio.open_nursery() as nursery:
        await nursery.start(clock.run)
        await nursery.start(other.run)
        async with trio.open_nursery() as work:
            work.start_soon(clock.tagged(Stage.GOSSIP_RX, tagged_root))
            work.start_soon(untagged)
            work.start_soon(other.tagged(Stage.RPC, untagged))
        nursery.cancel_scope.cancel()
    seconds = clock.snapshot()
    assert 2 * WORK_S <= seconds[Stage.GOSSIP_RX] < 2 * WORK_S + SLACK_S
    assert WORK_S <= seconds[Stage.BUILD] < WORK_S + SLACK_S
    assert set(charged(clock)) == {Stage.GOSSIP_RX, Stage.BUILD}
    assert WORK_S <= other.snapshot()[Stage.RPC] < WORK_S + SLACK_S
    assert set(charged(other)) == {Stage.RPC}


async def test_the_instrument_is_removed_when_the_clock_stops() -> None:
    clock = StageClock()

    async def busy() -> None:
        burn()

    async with trio.open_nursery() as nursery:
        await nursery.start(clock.run)
        nursery.cancel_scope.cancel()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(clock.tagged(Stage.RPC, busy))
    assert charged(clock) == {}
