"""The ``publish`` section: the ZeroMQ PUB socket of the wire format (docs/wire-format.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from rsu.config.base import StrictModel
from rsu.config.hosts import ZmqEndpoint
from rsu.config.kafka import KafkaConfig
from rsu.config.uplink import UplinkConfig
from rsu.core.netsec import insecure_bind_problem


class CurveConfig(StrictModel):
    """CURVE encryption and authentication (``rsu keys generate DIR`` makes the files)."""

    server_secret_key: Path = Field(description="the server's secret key file (*.key_secret)")
    authorized_keys: Path = Field(description="folder of the public key files (*.key) of allowed subscribers")


class ClientCurveConfig(StrictModel):
    """The client's side of a CURVE link to one of the box's servers (``rsu keys generate DIR`` makes the files)."""

    server_key: Path = Field(description="the server's public key file (server.key)")
    client_key: Path = Field(description="this client's secret key file (NAME.key_secret), authorised on the server")


class ZmqConfig(StrictModel):
    endpoint: ZmqEndpoint = Field(default="tcp://127.0.0.1:5556", pattern=r"^(tcp|ipc|inproc)://.+")
    send_hwm: int = Field(default=10000, gt=0, description="messages queued per subscriber before dropping")
    count_drops: bool = Field(
        default=True,
        description=(
            "true: a send a full subscriber queue refuses is seen (XPUB_NODROP): it skips only that subscriber "
            "(counted as skipped) while others keep up, else it is dropped for all and counted, and safety "
            "products are held (docs/wire-format.md); false: a slow subscriber silently loses only its own "
            "messages (plain PUB semantics, loss visible to it through seq gaps, not counted here)"
        ),
    )
    linger_ms: int = Field(default=500, ge=0, description="how long close() waits to flush queued messages")
    curve: CurveConfig | None = None
    plaintext_beyond_loopback: bool = Field(
        default=False,
        description="the operator's explicit choice to bind beyond loopback without CURVE (a closed network whose "
                    "subscribers cannot do CURVE); logged as a warning at start. Default: such a bind is refused")

    @model_validator(mode="after")
    def _secure_beyond_loopback(self) -> ZmqConfig:
        problem = insecure_bind_problem(self.endpoint, self.curve, "publish.zmq.curve")
        if problem and not self.plaintext_beyond_loopback:
            raise ValueError(f"{problem}; or, for a closed network, choose a plaintext bus explicitly with "
                             "publish.zmq.plaintext_beyond_loopback: true")
        return self


class PublishConfig(StrictModel):
    zmq: ZmqConfig = ZmqConfig()
    health_interval_s: float = Field(default=5.0, gt=0, le=3600,
                                     description="heartbeat: a health message per source, plugin and the box itself")
    uplink: UplinkConfig = UplinkConfig()
    kafka: KafkaConfig | None = None  # the box as a Kafka producer (docs/scale-out.md)
