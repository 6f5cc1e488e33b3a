"""Sealed models: AES-256-GCM at rest, Ed25519 signed; tampered, wrongly keyed or unsigned models are refused."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("cryptography")

from rsu.cli import main  # noqa: E402
from rsu.config.protection import ModelProtectionConfig  # noqa: E402
from rsu.inference.fault_predictor import FaultPredictor  # noqa: E402
from rsu.inference.session import make_session  # noqa: E402
from rsu.inference.seal import SealError, open_sealed, read_header, seal_bytes, verify_file  # noqa: E402
from rsu.inference.seal_keys import ModelKey, load_signing_key, load_verify_key  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FAULT_DIR = REPO / "plugins" / "furnace_fault" / "rsu_furnace_fault"


@pytest.fixture()
def keys(tmp_path: Path) -> Path:
    out = tmp_path / "keys"
    result = CliRunner().invoke(main, ["model", "keygen", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "model.key").stat().st_mode & 0o077 == 0
    return out


@pytest.fixture()
def sealed(tmp_path: Path, keys: Path) -> Path:
    dst = tmp_path / "fault_lstm.onnx.sealed"
    result = CliRunner().invoke(main, ["model", "seal", str(FAULT_DIR / "fault_lstm.onnx"), "--out", str(dst),
                                       "--signing-key", str(keys / "signing.pem"),
                                       "--key-file", str(keys / "model.key")])
    assert result.exit_code == 0, result.output
    return dst


def _meta() -> dict:
    import json

    return json.loads((FAULT_DIR / "fault_lstm.json").read_text())


def _protection(keys: Path, **kw: object) -> ModelProtectionConfig:
    return ModelProtectionConfig(key_file=str(keys / "model.key"), verify_key=str(keys / "signing.pub.pem"), **kw)


def test_sealed_model_runs_like_the_plain_one(sealed: Path, keys: Path) -> None:
    assert b"LSTM" not in sealed.read_bytes()  # encrypted at rest: no graph in clear
    header = read_header(sealed)
    assert header.encrypted and header.size == (FAULT_DIR / "fault_lstm.onnx").stat().st_size
    windows = np.random.default_rng(0).normal(size=(4, 60, 10)).astype(np.float32)
    plain = FaultPredictor("fault-lstm", FAULT_DIR / "fault_lstm.onnx", _meta()).predict(windows)
    opened = FaultPredictor("fault-lstm", sealed, _meta(), protection=_protection(keys)).predict(windows)
    np.testing.assert_array_equal(plain, opened)
    session = make_session(sealed, ["cpu"], protection=_protection(keys))  # the detector's loader too
    assert session.get_inputs()[0].name == "window"


def test_verify_cli_accepts_the_sealed_file(sealed: Path, keys: Path) -> None:
    ok = CliRunner().invoke(main, ["model", "verify", str(sealed), "--verify-key", str(keys / "signing.pub.pem"),
                                   "--key-file", str(keys / "model.key")])
    assert ok.exit_code == 0, ok.output
    assert '"hash_ok":true' in ok.output and '"signature_ok":true' in ok.output


def test_one_changed_byte_is_refused(sealed: Path, keys: Path) -> None:
    data = bytearray(sealed.read_bytes())
    data[len(data) // 2] ^= 0x01
    sealed.write_bytes(bytes(data))
    with pytest.raises(SealError, match="signature does not match"):
        FaultPredictor("fault-lstm", sealed, _meta(), protection=_protection(keys))
    bad = CliRunner().invoke(main, ["model", "verify", str(sealed), "--verify-key", str(keys / "signing.pub.pem")])
    assert bad.exit_code == 1 and "REFUSED" in bad.output and "signature does not match" in bad.output


def test_wrong_key_and_other_signer_are_refused(sealed: Path, keys: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    assert CliRunner().invoke(main, ["model", "keygen", "--out", str(other)]).exit_code == 0
    wrong_key = ModelProtectionConfig(key_file=str(other / "model.key"), verify_key=str(keys / "signing.pub.pem"))
    with pytest.raises(SealError, match="wrong key"):
        FaultPredictor("fault-lstm", sealed, _meta(), protection=wrong_key)
    other_signer = ModelProtectionConfig(key_file=str(keys / "model.key"), verify_key=str(other / "signing.pub.pem"))
    with pytest.raises(SealError, match="signed by another key"):
        FaultPredictor("fault-lstm", sealed, _meta(), protection=other_signer)
    no_verify_key = ModelProtectionConfig(key_file=str(keys / "model.key"))
    with pytest.raises(SealError, match="no verify key is configured"):
        FaultPredictor("fault-lstm", sealed, _meta(), protection=no_verify_key)


def test_re_signed_forgery_fails_decryption_or_hash(keys: Path) -> None:
    """Whoever holds the signing key but not the model key cannot slip in a changed model."""
    signer, verify = load_signing_key(keys / "signing.pem"), load_verify_key(keys / "signing.pub.pem")
    key = ModelKey(base64.b64decode((keys / "model.key").read_bytes()), "test")
    blob = bytearray(seal_bytes(b"model bytes " * 100, signing_key=signer, key=key))
    blob[-100] ^= 0x01  # inside the ciphertext, then signed again
    body = bytes(blob[:-64])
    with pytest.raises(SealError, match="decryption failed"):
        open_sealed(body + signer.sign(body), verify_key=verify, key=key)
    signed_only = bytearray(seal_bytes(b"model bytes " * 100, signing_key=signer, key=None))
    signed_only[-100] ^= 0x01
    body = bytes(signed_only[:-64])
    with pytest.raises(SealError, match="hash does not match"):
        open_sealed(body + signer.sign(body), verify_key=verify, key=None)


def test_key_from_environment_and_never_logged(sealed: Path, keys: Path, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    text = (keys / "model.key").read_text().strip()
    secret = base64.b64decode(text)
    monkeypatch.setenv("RSU_SEAL_TEST_KEY", text)
    caplog.set_level(logging.DEBUG)
    env_cfg = ModelProtectionConfig(key_env="RSU_SEAL_TEST_KEY", verify_key=str(keys / "signing.pub.pem"))
    FaultPredictor("fault-lstm", sealed, _meta(), protection=env_cfg)
    assert "opened in memory" in caplog.text
    errors = []
    for bad_env in ("0" * 64, base64.b64encode(b"x" * 32).decode()):
        monkeypatch.setenv("RSU_SEAL_TEST_KEY", bad_env)
        with pytest.raises(SealError) as info:
            FaultPredictor("fault-lstm", sealed, _meta(), protection=env_cfg)
        errors.append(str(info.value))
    report = verify_file(sealed, verify_key=load_verify_key(keys / "signing.pub.pem"),
                         key=ModelKey(secret, "$RSU_SEAL_TEST_KEY"))
    seen = caplog.text + "\n".join(errors) + repr(report) + repr(ModelKey(secret, "x"))
    for form in (text, secret.hex(), secret.hex().upper(), repr(secret)):
        assert form not in seen


def test_plain_model_refused_when_sealing_is_required(keys: Path) -> None:
    with pytest.raises(SealError, match="not a sealed model"):
        FaultPredictor("fault-lstm", FAULT_DIR / "fault_lstm.onnx", _meta(),
                       protection=_protection(keys, require_sealed=True))
