"""wrk, a load generator written in C, for the throughput benchmark.

bench/loadgen.py spends about as much CPU on a request as the server that
answers it. On a small machine that CPU comes out of the servers' share,
and most of all out of a server with several workers, which could use
every core. wrk spends a fraction of it. It comes from Debian's package
(`tools/install-test-packages.sh wrk`, run by `python -m bench throughput`
when it is missing); without it the benchmark falls back to loadgen.py
and says so in its table.
"""

import json
import shutil
import subprocess
import tempfile

from marketsvc.config import REPO_ROOT

# Each request asks for a random id between 1 and `last`. wrk counts any
# status over 399 as an error and prints a line for any other non-2xx.
SCRIPT = """
local prefix, last

function init(args)
  prefix, last = args[1], tonumber(args[2])
  math.randomseed(tonumber(args[3]))
end

function request()
  return wrk.format("GET", prefix .. math.random(1, last))
end

function done(summary)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %f, "errors": %d}\\n',
    summary.requests, summary.duration / 1e6,
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def install() -> None:
    """Install wrk from Debian's package when it is missing and we may (root)."""
    if not available():
        subprocess.run(["bash", str(REPO_ROOT / "tools" / "install-test-packages.sh"), "wrk"])


def run(port: int, prefix: str, last: int, connections: int, seconds: int, seed: int) -> float:
    """Requests per second answered while `connections` connections ask for
    `prefix` + a random id in 1..last for `seconds` seconds, every answer a 200.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(SCRIPT)
        script.flush()
        argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s"]
        argv += [script.name, f"http://127.0.0.1:{port}", "--", prefix, str(last), str(seed)]
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["errors"] == 0, out
    assert "Non-2xx" not in out, out
    return summary["requests"] / summary["seconds"]
