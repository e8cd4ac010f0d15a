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

# Each request asks for a random id between 1 and `last`. Every answer that
# is not a 200 is counted (wrk itself counts only statuses over 399), in the
# thread's own Lua state, and done() adds the threads' counts up.
SCRIPT = """
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  prefix, last = args[1], tonumber(args[2])
  math.randomseed(tonumber(args[3]))
  not_200 = 0
end

function request()
  return wrk.format("GET", prefix .. math.random(1, last))
end

function response(status)
  if status ~= 200 then not_200 = not_200 + 1 end
end

function done(summary)
  local e, not_200 = summary.errors, 0
  for _, thread in ipairs(threads) do not_200 = not_200 + thread:get("not_200") end
  io.write(string.format(
    '{"requests": %d, "seconds": %f, "errors": %d, "not_200": %d}\\n',
    summary.requests, summary.duration / 1e6,
    e.connect + e.read + e.write + e.status + e.timeout, not_200))
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
    assert summary["errors"] == 0 and summary["not_200"] == 0, out
    return summary["requests"] / summary["seconds"]
