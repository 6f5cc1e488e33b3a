"""The ``rsu`` command line. Each command lives in its own module and imports heavy modules lazily."""

from __future__ import annotations

import click

from rsu import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rsu")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", envvar="RSU_LOG_FORMAT",
              show_default=True, help="Log lines as text or as JSON objects (fields: source, plugin, ...).")
def main(verbose: int, log_format: str) -> None:
    """rsu: the roadside / plant-side edge appliance.

    Run the box with `rsu run CONFIG`; validate a config with `rsu check CONFIG`;
    watch what it publishes with `rsu tap ENDPOINT`.
    """
    from rsu.logging_setup import configure

    configure(verbose, "json" if log_format == "json" else "text")


def _register() -> None:
    from rsu.cli import assets, bench, check, detect, keys, model, run, plugin_new, plugins_cmd, tap
    from rsu.cli import calibrate, simulate
    from rsu.cli import power as power_cmd
    from rsu.cli import eval as eval_cmd
    from rsu.cli import federate, serve_inference
    from rsu.cli import v2x as v2x_cmd
    from rsu.cli import kafka as kafka_cmd
    from rsu.cli import fuzz as fuzz_cmd
    from rsu.cli import flink as flink_cmd
    from rsu.cli import soak as soak_cmd
    from rsu.cli import sources as sources_cmd
    from rsu.cli import graph as graph_cmd

    for module in (bench, check, run, plugins_cmd, plugin_new, tap, keys, model, detect, assets,
                   simulate, eval_cmd, calibrate, power_cmd, serve_inference, federate, v2x_cmd, kafka_cmd,
                   fuzz_cmd, soak_cmd, flink_cmd, sources_cmd, graph_cmd):
        main.add_command(module.command)


_register()
