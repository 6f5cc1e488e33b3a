"""The ``publish`` section: the ZeroMQ PUB socket of the wire format."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from rsu.config.base import StrictModel


class CurveConfig(StrictModel):
    """CURVE encryption and authentication (``rsu keys generate DIR`` makes the files)."""

    server_secret_key: Path = Field(description="the server's secret key file (*.key_secret)")
    authorized_keys: Path = Field(description="folder of the public key files (*.key) of allowed subscribers")


class ZmqConfig(StrictModel):
    endpoint: str = Field(default="tcp://127.0.0.1:5556", pattern=r"^(tcp|ipc|inproc)://.+")
    send_hwm: int = Field(default=10000, gt=0, description="messages queued per subscriber before dropping")
    curve: CurveConfig | None = None


class PublishConfig(StrictModel):
    zmq: ZmqConfig = ZmqConfig()
