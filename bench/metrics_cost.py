"""What counting an operation for /metrics costs, beside what each request already pays.

    python -m bench.metrics_cost            # a few seconds
    python -m bench.metrics_cost --smoke    # the suite

Each figure is a fresh interpreter's: prometheus-client picks its single- or multi-process
mode on import. The reference, measured in the same process, is formatting one request's JSON
log line (licensing/logs.py), which every request pays already.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile

from licensing import metrics_directory

MEASURE = """
import json, logging, timeit
from licensing import logs, metrics
from resolvers.context import OperationReport
recorder = metrics.Recorder(metrics.OperationNames(["Pools"]))
report = OperationReport("query", "Pools", "ok", (), 0.003)
record = logging.LogRecord("licensing.access", logging.INFO, "", 0, "POST /graphql 200", (), None)
record.fields = {"requestId": "0123456789abcdef", "method": "POST", "path": "/graphql",
                 "status": 200, "durationMs": 3.1, "client": "127.0.0.1"}
formatter = logs.JsonFormatter()
number = NUMBER
print(json.dumps({
    "operation": timeit.timeit(lambda: recorder.operation_done(report), number=number) / number,
    "cache hit": timeit.timeit(lambda: recorder.cache_lookup(True), number=number) / number,
    "log line": timeit.timeit(lambda: formatter.format(record), number=number) / number,
}))
"""


def _measured(number: int, directory: str | None) -> dict[str, float]:
    env = dict(os.environ)
    env.pop(metrics_directory.DIRECTORY_VARIABLE, None)
    if directory:
        env[metrics_directory.DIRECTORY_VARIABLE] = directory
    run = subprocess.run(  # noqa: S603 - this interpreter, a script of this file
        [sys.executable, "-c", MEASURE.replace("NUMBER", str(number))],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, float] = json.loads(run.stdout)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a few hundred rounds")
    args = parser.parse_args(argv)
    number = 500 if args.smoke else 50_000
    with tempfile.TemporaryDirectory() as folder:
        modes = {"one process": _measured(number, None), "--workers N": _measured(number, folder)}
    print("| mode | operation counted (us) | cache hit counted (us) | reference: log line (us) |")
    print("| --- | --- | --- | --- |")
    for mode, figures in modes.items():
        cells = [f"{figures[name] * 1e6:.1f}" for name in ("operation", "cache hit", "log line")]
        print(f"| {mode} | {' | '.join(cells)} |")


if __name__ == "__main__":
    logging.disable(logging.CRITICAL)
    main()
