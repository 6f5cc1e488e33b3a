"""``rsu flink fetch|submit|cluster``: the operators as a Kafka-fed job on a Flink cluster (docs/scale-out.md)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

_DIR = click.option("--dir", "work_dir", type=click.Path(file_okay=False, path_type=Path),
                    default=Path("var/flink-cluster"), show_default=True,
                    help="the cluster's folder (config, logs, pid files, cluster.json)")


@click.group("flink")
def command() -> None:
    """The Flink runner fed through Kafka: the connector jar, a standalone cluster, the job."""


@command.command("fetch")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="assets folder (default: $RSU_ASSETS, <checkout>/assets, or ~/.cache/rsu/assets)")
@click.option("--update-checksums", is_flag=True,
              help="after a deliberate version change in deploy/flink/pom.xml: rewrite deploy/flink/jars.sha256")
def fetch(directory: Path | None, update_checksums: bool) -> None:
    """Fetch the pinned Kafka connector jar from Maven Central (needs `mvn`) and check its sha256; build the job's
    JVM module (deploy/flink/job) against the pinned Flink and connector versions."""
    from rsu.kafka.jars import JarsError
    from rsu.pipeline.flink.connector import fetch as fetch_jars

    t0 = time.monotonic()
    try:
        lib = fetch_jars(directory, lambda line: click.echo(f"  {line}"), update_checksums=update_checksums)
    except JarsError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"flink connector: {lib} ({time.monotonic() - t0:.1f} s)")


@command.group("cluster")
def cluster() -> None:
    """A standalone cluster from the apache-flink wheel on 127.0.0.1 (the flink extra)."""


@cluster.command("start")
@_DIR
@click.option("--taskmanagers", type=int, default=2, show_default=True)
@click.option("--slots", type=int, default=2, show_default=True, help="task slots per TaskManager")
@click.option("--rest-port", type=int, default=8081, show_default=True)
@click.option("--taskmanager-memory", default="1536m", show_default=True, help="process size of each")
@click.option("--java-options", default=None, help="JVM options of every process (default: C1 only, "
              "-XX:TieredStopAtLevel=1; '' for the JVM's own; docs/scale-out.md)")
@click.option("--timeout", type=float, default=180.0, show_default=True)
def cluster_start(work_dir: Path, taskmanagers: int, slots: int, rest_port: int, taskmanager_memory: str,
                  java_options: str | None, timeout: float) -> None:
    """Start a JobManager and the TaskManagers (detached), and wait until every TaskManager registered."""
    from rsu.pipeline.flink.cluster import JAVA_OPTIONS, StandaloneCluster

    t0 = time.monotonic()
    c = StandaloneCluster(work_dir.resolve(), rest_port=rest_port, slots=slots, taskmanagers=taskmanagers,
                          taskmanager_memory=taskmanager_memory,
                          java_options=JAVA_OPTIONS if java_options is None else java_options)
    try:
        c.start(timeout)
    except (RuntimeError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"flink: {taskmanagers} TaskManagers x {slots} slots ready at {c.address} "
               f"({time.monotonic() - t0:.1f} s; logs {c.log_dir}); set pipeline.flink.address: {c.address}")


def _cluster(work_dir: Path) -> Any:
    from rsu.pipeline.flink.cluster import StandaloneCluster

    try:
        return StandaloneCluster.from_dir(work_dir.resolve())
    except FileNotFoundError:
        raise click.ClickException(f"no cluster was started in {work_dir} (rsu flink cluster start)") from None


@cluster.command("stop")
@_DIR
def cluster_stop(work_dir: Path) -> None:
    """Stop the TaskManagers and the JobManager (running jobs stop; their checkpoints stay)."""
    _cluster(work_dir).stop()
    click.echo("flink: stopped")


@cluster.command("status")
@_DIR
@click.option("--json", "as_json", is_flag=True)
def cluster_status(work_dir: Path, as_json: bool) -> None:
    """TaskManagers, slots and jobs; exit 1 when the cluster does not answer."""
    c = _cluster(work_dir)
    try:
        info = {"address": c.address, **c.overview(), "jobs": c.jobs()}
    except OSError as exc:
        if as_json:
            click.echo(json.dumps({"address": c.address, "running": False, "error": str(exc)}))
        else:
            click.echo(f"flink: not answering at {c.address} ({exc})")
        raise SystemExit(1) from None
    if as_json:
        click.echo(json.dumps({"running": True, **info}))
        return
    click.echo(f"flink: {info.get('taskmanagers')} TaskManagers, {info.get('slots-available')}/"
               f"{info.get('slots-total')} slots free at {c.address}")
    for job in info["jobs"]:
        click.echo(f"  {job['jid']}  {job['state']:<10} {job['name']}")


def _operators(cfg: Any) -> list[Any]:
    """What the box's embedded runner would run for this config: fusion and the fault operator."""
    from rsu.app.fault_setup import fault_prediction
    from rsu.pipeline.assemble import operators_from_config
    from rsu.plugins.manager import create_plugin_manager

    loaded = create_plugin_manager(cfg.plugins.enabled)
    loaded.require_enabled()
    problems: list[str] = []
    fault = fault_prediction(cfg, loaded.pm, problems)
    if problems:
        raise click.ClickException("; ".join(problems))
    return operators_from_config(cfg, extra=fault.operators)


@command.command("submit")
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--address", help="HOST:PORT of the cluster's REST endpoint (default: pipeline.flink.address; "
                                "none: a local mini-cluster, in this process, until the job ends)")
@click.option("--parallelism", type=int, help="default: pipeline.flink.parallelism")
@click.option("--no-restore", is_flag=True, help="start afresh instead of from the newest retained checkpoint")
@click.option("--name", "job_name", default="rsu-kafka", show_default=True)
def submit(config: Path, address: str | None, parallelism: int | None, no_restore: bool, job_name: str) -> None:
    """Build the Kafka-fed job from CONFIG (pipeline.flink.kafka) and submit it; prints the job id."""
    from rsu.config import load_config
    from rsu.kafka.jars import JarsError
    from rsu.pipeline.flink.connector import connector_jars
    from rsu.pipeline.flink.kafka_job import submit_kafka_job

    cfg = load_config(config)
    fc = cfg.pipeline.flink
    kc = fc.kafka.model_copy(update={"restore": fc.kafka.restore and not no_restore})
    fc = fc.model_copy(update={"kafka": kc, "address": address or fc.address,
                               "parallelism": parallelism or fc.parallelism})
    pc = cfg.pipeline.model_copy(update={"flink": fc})
    operators = _operators(cfg)
    if not operators:
        raise click.ClickException(f"{config}: the config asks for no operators (fusion, fault prediction)")
    try:
        jars = connector_jars()
    except JarsError as exc:
        raise click.ClickException(str(exc)) from None
    client, restored = submit_kafka_job(operators, pc, jars, job_name=job_name)
    click.echo(json.dumps({"job_id": str(client.get_job_id()), "address": fc.address or "local",
                           "parallelism": fc.parallelism, "restored_from": None if restored is None else str(restored),
                           "operators": [op.name for op in operators]}))
    if not fc.address:
        client.get_job_execution_result().result()
