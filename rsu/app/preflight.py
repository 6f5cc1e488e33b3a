"""Start-up checks of a valid config: what ``rsu run`` would stop on, found without starting anything.

:func:`preflight` returns one ``dotted.key.path: reason`` line per problem: files and recordings that are
missing, model files that are unknown, missing or not loadable, source types nobody registers, the enabled
plugins and their settings, CURVE key files, and ports (two entries on one port; ports already in use).
``rsu check`` prints them and exits 2; ``rsu run`` refuses to start with exit 2 on the same lines.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rsu.app.preflight_ports import bind_conflicts, planned_binds, ports_in_use
from rsu.config.sources import BUILTIN_SOURCE_TYPES
from rsu.sources.builtin import local_path

if TYPE_CHECKING:
    import pluggy

    from rsu.config.root import RsuConfig

__all__ = ["local_path", "model_file_problem", "preflight"]

log = logging.getLogger(__name__)


def _recording(key: str, path: Path, *, folder: bool, inner: str | None, hint: str) -> str | None:
    if not path.exists():
        return f"{key}: recording not found: {path} ({hint})"
    if folder and not path.is_dir():
        return f"{key}: {path} is a file; expected the recording folder"
    if inner is not None and path.is_dir() and not (path / inner).is_file():
        return f"{key}: no {inner} in the folder {path} ({hint})"
    return None


def source_problems(cfg: RsuConfig, base_dir: Path, plugin_kinds: Mapping[str, Any]) -> list[str]:
    """Camera files and recordings that are missing, source types neither rsu nor a plugin provides, and the
    settings of a plugin's source kind against its ``config_schema``.

    :param plugin_kinds: ``type`` -> :class:`rsu_sdk.SourceSpec` of the enabled plugins.
    """
    from rsu.plugins.settings import schema_problems
    from rsu.sources.air_station.replay import READINGS_FILE

    problems: list[str | None] = []
    for i, src in enumerate(cfg.sources):
        if not src.enabled:
            continue
        where = f"sources[{i}]"
        if src.type == "camera":
            path = local_path(src.url, base_dir)
            if path is not None and not path.exists():
                problems.append(f"{where}.url: camera file not found: {path}")
            elif path is not None and path.is_dir():
                problems.append(f"{where}.url: {path} is a folder, not a video file")
        elif src.type == "replay":
            problems.append(_recording(f"{where}.path", base_dir / Path(src.path).expanduser(), folder=True,
                                       inner=None, hint=f"make one with: rsu simulate intersection --out {src.path}"))
        elif src.type == "sensor_replay":
            problems.append(_recording(f"{where}.path", base_dir / Path(src.path).expanduser(), folder=False,
                                       inner="readings.csv", hint=f"make one with: rsu simulate furnace --out {src.path}"))
        elif src.type == "air_station" and src.replay is not None:
            rel = src.replay.path
            problems.append(_recording(f"{where}.replay.path", base_dir / Path(rel).expanduser(), folder=False,
                                       inner=READINGS_FILE, hint=f"make one with: rsu simulate air-station --out {rel}"))
        elif src.type in plugin_kinds and src.type not in BUILTIN_SOURCE_TYPES:
            schema = getattr(plugin_kinds[src.type], "config_schema", None)
            if schema is not None:
                problems.extend(schema_problems(where, schema, dict(src.model_extra or {})))
        elif src.type not in BUILTIN_SOURCE_TYPES:
            known = list(dict.fromkeys([*BUILTIN_SOURCE_TYPES, *sorted(plugin_kinds)]))
            problems.append(f"{where}.type: unknown source type {src.type!r}; known: {', '.join(known)} "
                            "(a plugin's type needs that plugin in plugins.enabled)")
    return [p for p in problems if p]


def model_file_problem(path: Path, protection: Any = None) -> str | None:
    """Why ``path`` is not a model file the box can open (cheap: the ONNX protobuf is parsed, no session)."""
    if path.is_dir():
        return f"{path} is a folder, not a model file"
    if not path.is_file():
        return f"model file not found: {path}"
    try:
        if path.suffix.lower() == ".tflite":
            with path.open("rb") as fh:
                head = fh.read(8)
            return None if head[4:8] == b"TFL3" else f"{path} is not a TFLite model (no TFL3 identifier)"
        import onnx

        from rsu.inference.seal import load_model

        source = load_model(path, protection)  # the path, or checked and decrypted bytes of a sealed model
        model = onnx.load_from_string(source) if isinstance(source, bytes) else \
            onnx.load(source, load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf, seal and OS errors all mean "cannot load"
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"cannot load model {path}: {text}"
    if not model.graph.node or not model.graph.input:
        return f"{path} is not an ONNX model (no graph)"
    return None


def _resolve(name: str, base_dir: Path) -> Path:
    """The file a model name means, as ``rsu.assets.paths.resolve_model`` finds it (relative to ``base_dir``)."""
    from rsu.assets.paths import resolve_model

    path = Path(name).expanduser()
    if not path.is_absolute() and (path.suffix.lower() in (".onnx", ".tflite") or (base_dir / path).exists()):
        return resolve_model(str(base_dir / path))
    return resolve_model(name)


def _detector_problem(key: str, model: str, base_dir: Path, protection: Any) -> str | None:
    from rsu.inference.session import ModelError

    try:
        path = _resolve(model, base_dir)
    except ModelError as exc:
        return f"{key}: {exc}"
    problem = model_file_problem(path, protection)
    return f"{key}: {problem}" if problem else None


def model_problems(cfg: RsuConfig, base_dir: Path, pm: pluggy.PluginManager) -> list[str]:
    """The detector (when a camera runs, or the config names one) and the fault model the box would load."""
    from rsu.app.fault_setup import has_plant_readings, provider_of
    from rsu.config.fault import FaultPredictionConfig
    from rsu.plugins.registry import collect_models

    problems: list[str | None] = []
    protection = cfg.models.protection
    cameras = any(s.enabled and s.type == "camera" for s in cfg.sources)
    if cameras or "detector" in cfg.models.model_fields_set:
        problems.append(_detector_problem("models.detector.model", cfg.models.detector.model, base_dir, protection))
    if cfg.tiered is not None and "server" in cfg.tiered.model_fields_set:  # read by rsu serve-inference
        problems.append(_detector_problem("tiered.server.detector.model", cfg.tiered.server.detector.model,
                                          base_dir, protection))
    template = cfg.federated.aggregator.template if cfg.federated is not None else None
    if template is not None:  # version 0 of rsu federate serve
        problem = model_file_problem(base_dir / Path(template).expanduser(), protection)
        problems.append(f"federated.aggregator.template: {problem}" if problem else None)
    fc = cfg.fault_prediction or FaultPredictionConfig()
    if fc.enabled and has_plant_readings(cfg):
        specs = collect_models(pm)
        spec = specs.get(fc.model)
        if spec is None and cfg.fault_prediction is not None:
            owner = provider_of(fc.model)
            hint = f"enable plugin {owner} (plugins.enabled: [{owner}])" if owner else \
                "install and enable the plugin that ships it"
            problems.append(f"fault_prediction.model: no enabled plugin registers model {fc.model!r}; {hint}, or "
                            f"set fault_prediction.enabled: false (registered models: {', '.join(sorted(specs)) or 'none'})")
        elif spec is not None:
            problem = model_file_problem(Path(spec.path), protection)
            problems.append(f"fault_prediction.model: model {fc.model!r}: {problem}" if problem else None)
    return [p for p in problems if p]


def file_problems(cfg: RsuConfig, base_dir: Path) -> list[str]:
    """Key files the publisher and the model loader read; a file where the checkpoint folder should be."""
    problems: list[str] = []
    curve = cfg.publish.zmq.curve
    if curve is not None:
        from rsu.publish.curve import load_keypair

        key = "publish.zmq.curve.server_secret_key"
        try:
            load_keypair(base_dir / curve.server_secret_key, need_secret=True, what=key)
        except Exception as exc:  # noqa: BLE001 - PublishError or a malformed key file
            text = str(exc)
            problems.append(text if text.startswith(key) else f"{key}: {text}")
        if not (base_dir / curve.authorized_keys).is_dir():
            problems.append(f"publish.zmq.curve.authorized_keys: {base_dir / curve.authorized_keys} is not a folder")
    tls = cfg.web.tls if cfg.web.enabled else None
    if tls is not None:  # the certificate, its key and the client CA load as the web server will load them
        from rsu.web.tls import TlsSettingsError, server_context

        try:
            server_context(base_dir / tls.cert, base_dir / tls.key, None if tls.client_ca is None else base_dir / tls.client_ca)
        except TlsSettingsError as exc:
            problems.append(str(exc))
    key_file = cfg.models.protection.key_file
    if key_file is not None and not (base_dir / Path(key_file).expanduser()).is_file():
        problems.append(f"models.protection.key_file: file not found: {base_dir / Path(key_file).expanduser()}")
    ckpt = base_dir / cfg.pipeline.checkpoint.dir
    existing = next((p for p in (ckpt, *ckpt.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        problems.append(f"pipeline.checkpoint.dir: {existing} is a file, not a folder")
    return problems


def _guarded(what: str, check: Callable[[], list[str]]) -> list[str]:
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 - a check that breaks is a reported problem, never a traceback
        log.debug("preflight: %s failed", what, exc_info=True)
        return [f"{what}: could not be checked: {type(exc).__name__}: {exc}"]


def preflight(cfg: RsuConfig, base_dir: Path, *, pm: pluggy.PluginManager | None = None, ports: bool = True,
              extra_plugins: Sequence[tuple[str, object]] = ()) -> list[str]:
    """Every start-up problem of a valid ``cfg``, one ``dotted.key.path: reason`` line each ([] when none).

    :param base_dir: relative paths of the config are taken from here (``rsu run`` uses the working directory).
    :param pm: a plugin manager with the enabled plugins loaded; None loads them here and also checks
        ``plugins.enabled`` and every ``plugins.<name>`` section against the plugin's schema.
    :param ports: also bind each configured port for a moment (in use, unknown address). Call it before
        anything of the box binds; two entries on one port are reported either way.
    :param extra_plugins: ``(name, plugin)`` pairs loaded as if installed, when ``pm`` is None (tests, embedding).
    """
    problems: list[str] = []
    if pm is None:
        from rsu.plugins.manager import create_plugin_manager
        from rsu.plugins.settings import plugin_problems

        try:
            loaded = create_plugin_manager(cfg.plugins.enabled, extra_plugins=extra_plugins)
        except Exception as exc:  # noqa: BLE001 - named by its key, never "cannot check"
            log.debug("preflight: loading the plugins failed", exc_info=True)
            return [f"plugins.enabled: the plugins could not be loaded: {type(exc).__name__}: {exc}"]
        problems += _guarded("plugins.enabled", lambda: plugin_problems(loaded, cfg.plugins.enabled,
                                                                        cfg.plugins.sections()))
        pm = loaded.pm
    plugin_pm = pm

    def _sources() -> list[str]:
        from rsu.plugins.registry import collect_sources

        return source_problems(cfg, base_dir, collect_sources(plugin_pm))

    problems += _guarded("sources", _sources)
    problems += _guarded("models", lambda: model_problems(cfg, base_dir, plugin_pm))
    problems += _guarded("files", lambda: file_problems(cfg, base_dir))
    binds = planned_binds(cfg)
    problems += bind_conflicts(binds)
    if ports:
        problems += _guarded("ports", lambda: ports_in_use(binds))
    return list(dict.fromkeys(problems))
