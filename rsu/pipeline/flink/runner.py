"""The Flink runner on the host: a Box stage that feeds products to the job and hands its outputs back.

``process`` writes each product to the job's socket and returns nothing; the job's outputs arrive on the
:class:`ProductReceiver` thread and go to ``emit`` (the Box's ``ingest``), then to the publisher and plugins.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rsu_sdk import Product

from rsu.pipeline.operators import Operator

__all__ = ["FlinkRunner"]

log = logging.getLogger(__name__)


def _root_cause(exc: BaseException) -> str:
    """The last 'Caused by' line of a Java exception (what actually went wrong), else its first line."""
    text = str(exc)
    causes = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("Caused by:")]
    return (causes[-1] if causes else text.strip().splitlines()[0] if text.strip() else repr(exc))[:500]


class FlinkRunner:
    """Runs ``operators`` as a PyFlink job (local mini-cluster, or the cluster at ``pipeline.flink.address``)."""

    name = "operators"

    def __init__(self, operators: Sequence[Operator], pipeline_cfg: Any, emit: Callable[[Product], None], *,
                 checkpoint_dir: Path | None = None, name: str = "rsu") -> None:
        self.operators = list(operators)
        self.handles: tuple[type, ...] = tuple({t for op in operators for t in op.handles})
        self.pc = pipeline_cfg
        self.emit = emit
        self.checkpoint_dir = checkpoint_dir
        self.job_name = name
        self.feeder: Any = None
        self.receiver: Any = None
        self.job_client: Any = None
        self.startup_s: float | None = None
        self._opened = False
        self._failed: str | None = None
        self.counts = {"fed": 0}

    def open(self) -> None:
        """Start the feeder and receiver, build and submit the job, wait until it connects."""
        if self._opened:
            return
        self._opened = True
        from rsu.pipeline.flink.feeder import SocketFeeder
        from rsu.pipeline.flink.job import build_job, make_environment
        from rsu.pipeline.flink.publish import ProductReceiver

        fc = self.pc.flink
        t0 = time.monotonic()
        self.feeder = SocketFeeder(fc.feeder_host, fc.feeder_port, max_batch=fc.max_batch,
                                   batch_wait_ms=fc.batch_wait_ms, batch_above_per_s=fc.batch_above_per_s)
        self.receiver = ProductReceiver(fc.return_endpoint, self.emit, on_lag=self.feeder.note_lag)
        env = make_environment(fc, checkpoint_dir=self.checkpoint_dir)
        build_job(env, self.operators, feeder=self.feeder.address, return_endpoint=self.receiver.endpoint,
                  out_of_orderness_ms=self.pc.out_of_orderness_ms, parallelism=fc.parallelism)
        self.job_client = env.execute_async(self.job_name)
        end = time.monotonic() + fc.startup_timeout_s
        while not self.feeder.wait_connected(0.2) and time.monotonic() < end:
            try:
                status = str(self.job_client.get_job_status().result())
            except Exception as exc:  # a local mini-cluster shuts down once its job failed
                status = f"FAILED ({_root_cause(exc)})"
            if status.startswith("FAILED (") or status.endswith(("FAILED", "CANCELED", "FINISHED")):
                try:
                    self.job_client.get_job_execution_result().result()
                except Exception as exc:
                    raise RuntimeError(f"the flink job ended at start-up ({status}): {_root_cause(exc)}") from None
                raise RuntimeError(f"the flink job ended at start-up ({status})")
        if not self.feeder.wait_connected(0):
            raise RuntimeError(f"the flink job did not connect to {self.feeder.address} within "
                               f"{fc.startup_timeout_s} s")
        self.startup_s = time.monotonic() - t0
        log.info("flink job %s running (%s), started in %.1f s", self.job_client.get_job_id(),
                 fc.address or "local mini-cluster", self.startup_s)

    def process(self, element: Product) -> list[Product]:
        if not self._opened:
            self.open()
        self.feeder.send(element)
        self.counts["fed"] += 1
        return []

    def wait_until_ready(self, timeout: float = 60.0) -> bool:
        """Until every task of the job runs, so that what is fed now is handled at once (benchmarks)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            status = str(self.job_client.get_job_status().result())
            if status.endswith("RUNNING"):
                return True
            time.sleep(0.05)
        return False

    def finish(self, end_of_input: bool = False, timeout: float = 60.0) -> list[Product]:
        """End the input (end-of-input timers fire in the job), wait for the job, then stop receiving.

        Not at end of input the job is cancelled instead, keeping its last checkpoint for a restart.
        """
        if not self._opened:
            return []
        if end_of_input:
            self.feeder.close()
            done = threading.Event()

            def _wait() -> None:
                try:
                    self.job_client.get_job_execution_result().result()
                except Exception as exc:
                    self._failed = _root_cause(exc)
                done.set()

            threading.Thread(target=_wait, daemon=True).start()
            if not done.wait(timeout):
                log.warning("flink job did not finish within %.0f s; cancelling", timeout)
                self.job_client.cancel().result()
        else:
            self.job_client.cancel().result()
            self.feeder.close()
        self.receiver.wait_quiet(0.3, 10.0)
        self.receiver.close()
        return []

    def stats(self) -> dict[str, Any]:
        return {"runner": "flink", "address": self.pc.flink.address or "local", **self.counts,
                "startup_s": None if self.startup_s is None else round(self.startup_s, 3),
                "job_error": self._failed,
                "feeder": None if self.feeder is None else self.feeder.stats(),
                "receiver": None if self.receiver is None else self.receiver.stats()}
