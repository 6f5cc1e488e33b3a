"""Key rotation with ``rsu keys``: a new client is admitted after a restart, a revoked one is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from rsu.cli import main
from rsu.config.publish import ClientCurveConfig, CurveConfig
from rsu.federated.client import FederatedClient, FederationError
from rsu.federated.server import AggregatorServer
from rsu.federated.store import ModelStore

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "plugins" / "furnace_fault" / "rsu_furnace_fault" / "fault_lstm.onnx"


def _answers(server: AggregatorServer, keys: Path, name: str) -> bool:
    cc = ClientCurveConfig(server_key=keys / "server.key", client_key=keys / f"{name}.key_secret")
    client = FederatedClient(server.endpoint, timeout_s=2.0, curve=cc)
    try:
        return client.latest("fault-lstm")[0]["version"] == 0
    except FederationError:
        return False
    finally:
        client.close()


def _serve(tmp: Path, keys: Path) -> AggregatorServer:
    curve = CurveConfig(server_secret_key=keys / "server.key_secret", authorized_keys=keys / "authorized_keys")
    return AggregatorServer(ModelStore(tmp / "store", "fault-lstm", SHIPPED), "tcp://127.0.0.1:*",
                            curve=curve).start()


def test_add_rotate_and_revoke_clients(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    run = CliRunner()
    assert run.invoke(main, ["keys", "generate", str(keys), "--client", "box-a"]).exit_code == 0
    result = run.invoke(main, ["keys", "client", str(keys), "box-b"])
    assert result.exit_code == 0, result.output
    assert run.invoke(main, ["keys", "client", str(keys), "box-b"]).exit_code != 0  # no silent overwrite
    assert (keys / "box-b.key_secret").stat().st_mode & 0o077 == 0
    srv = _serve(tmp_path, keys)
    try:
        assert _answers(srv, keys, "box-a") and _answers(srv, keys, "box-b")
    finally:
        srv.close()
    old_secret = (keys / "box-a.key_secret").read_bytes()
    assert run.invoke(main, ["keys", "client", str(keys), "box-a", "--force"]).exit_code == 0
    (tmp_path / "old.key_secret").write_bytes(old_secret)
    (keys / "old.key_secret").write_bytes(old_secret)
    assert run.invoke(main, ["keys", "revoke", str(keys), "box-b"]).exit_code == 0
    assert run.invoke(main, ["keys", "revoke", str(keys), "box-b"]).exit_code != 0
    srv = _serve(tmp_path, keys)  # a restart reads authorized_keys/ again
    try:
        assert _answers(srv, keys, "box-a")  # the rotated pair
        assert not _answers(srv, keys, "old")  # box-a's old pair
        assert not _answers(srv, keys, "box-b")  # revoked
    finally:
        srv.close()


@pytest.mark.parametrize("name", ["server", "../x", ".hidden"])
def test_bad_client_names_are_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / "k").mkdir()
    result = CliRunner().invoke(main, ["keys", "client", str(tmp_path / "k"), name])
    assert result.exit_code == 2 and "invalid client name" in result.output


def test_federate_status_with_and_without_keys(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    assert CliRunner().invoke(main, ["keys", "generate", str(keys), "--client", "ops"]).exit_code == 0
    srv = _serve(tmp_path, keys)
    try:
        ok = CliRunner().invoke(main, ["federate", "status", "--endpoint", srv.endpoint,
                                       "--server-key", str(keys / "server.key"),
                                       "--client-key", str(keys / "ops.key_secret")])
        assert ok.exit_code == 0 and '"version":0' in ok.output, ok.output
        anonymous = CliRunner().invoke(main, ["federate", "status", "--endpoint", srv.endpoint])
        assert anonymous.exit_code == 1 and "no answer" in anonymous.output
    finally:
        srv.close()
