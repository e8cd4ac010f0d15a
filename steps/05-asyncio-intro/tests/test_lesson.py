"""This step's lesson: the asyncio_intro scripts run and do what they say.

Each script runs in its own Python process, as an attendee would run it,
and the test reads what it printed. Timings are checked with wide margins:
only "about as long as the slowest" against "the sum of all", never exact.
"""

import re
import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent.parent / "asyncio_intro"


def run(script: str) -> str:
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / script)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    # No "coroutine was never awaited", no "Task was destroyed but it is pending".
    assert result.stderr == ""
    return result.stdout


def seconds(pattern: str, output: str) -> float:
    match = re.search(pattern, output)
    assert match, f"{pattern!r} not in:\n{output}"
    return float(match.group(1))


def test_every_script_is_covered_here():
    scripts = sorted(path.name for path in SCRIPTS.glob("*.py"))
    tested = sorted(
        name.removeprefix("test_") + ".py"
        for name in globals()
        if name.startswith("test_") and name[5:7].isdigit()
    )
    assert scripts == tested


def test_01_coroutines():
    output = run("01_coroutines.py")
    assert "returned a coroutine" in output
    assert "await gave: tea is ready" in output
    # Sequential awaits: the two 0.2s waits add up.
    assert seconds(r"two awaits in a row took ([\d.]+)s", output) >= 0.4


def test_02_tasks():
    output = run("02_tasks.py")
    lines = output.splitlines()
    # Both tasks start before either finishes: their waits overlap.
    assert lines.index("  start cocoa") < lines.index("  done  coffee")
    assert seconds(r"two tasks took ([\d.]+)s", output) < 0.4
    assert "stew was cancelled" in output
    assert "stew cancelled: True" in output


def test_03_gather():
    output = run("03_gather.py")
    assert "prices in argument order: [5.0, 10.5, 2.0]" in output
    assert seconds(r"three lookups took ([\d.]+)s", output) < 0.6
    assert "gather raised: no price for Caviar" in output
    assert "the Milk lookup is still running: True" in output
    assert "result: 1.0" in output
    assert "result: LookupError('no price for Caviar')" in output


def test_04_taskgroup():
    output = run("04_taskgroup.py")
    assert "both done: 5.0 10.5" in output
    assert "Onion lookup cancelled" in output
    assert "ExceptionGroup with 2 errors" in output
    assert "no price for Caviar" in output and "no price for Truffle" in output
    assert "the Onion lookup was cancelled: True" in output
    assert seconds(r"gave up after ([\d.]+)s", output) < 2


def test_05_async_for():
    output = run("05_async_for.py")
    assert "tick 0\ntick 1\ntick 2\n" in output
    assert "squares: [0, 1, 4, 9]" in output
    lines = output.splitlines()
    closed = [n for n, line in enumerate(lines) if line.startswith("  connection closed")]
    assert len(closed) == 2
    # aclosing() ran the generator's cleanup in main(), before the next line.
    assert lines[closed[0]] == "  connection closed, in task main"
    assert closed[0] < lines.index("after the loop: 3 of 1000 rows read")
    assert "row 3" not in output
    # Without it, asyncio closed the dropped generator later, in another task.
    assert closed[1] > lines.index("after the second loop")
    assert lines[closed[1]] != "  connection closed, in task main"


def test_06_queues():
    output = run("06_queues.py")
    assert "9 orders handled by 3 workers: worker-0, worker-1, worker-2" in output
    assert "every order exactly once: True" in output
    assert seconds(r"took ([\d.]+)s;", output) < 0.45


def test_07_when_it_does_not_pay():
    output = run("07_when_it_does_not_pay.py")
    # Computing gets no faster for being async: the gathered coroutines ran
    # one after another, each to its end before the next began. (The order
    # shows it whatever else the machine is doing; the printed speed-up is a
    # timing, so it is only read, not held to a bound.)
    order = "A starts, A ends, B starts, B ends, C starts, C ends"
    assert f"gathered, in the order it happened: {order}\n" in output
    assert seconds(r"speed-up from asyncio: ([\d.]+)x", output) > 0
    # A blocking call freezes the loop; the same wait in a thread does not.
    assert seconds(r"during a blocking 0.3s sleep: (\d+)", output) <= 1
    assert seconds(r"during 0.3s in a thread: +(\d+)", output) >= 3
