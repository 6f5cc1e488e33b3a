"""docs/wire-format.md: its minimal subscriber really works, and it names every product and schema id."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from rsu.config.publish import ZmqConfig
from rsu.publish import BUILTIN_PRODUCTS, ZmqPublisher
from rsu.publish.schemas import schema_ids
from rsu.publish.topics import PRODUCT_PATTERN

DEFAULT_ENDPOINT = "tcp://127.0.0.1:5556"


@pytest.fixture(scope="module")
def doc(repo_root: Path) -> str:
    return (repo_root / "docs" / "wire-format.md").read_text(encoding="utf-8")


def subscriber_snippet(doc: str) -> str:
    section = doc.split("## A minimal subscriber", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, "no python block under '## A minimal subscriber'"
    return blocks[0]


def test_minimal_subscriber_runs_against_a_real_publisher(doc: str, tmp_path: Path) -> None:
    code = subscriber_snippet(doc)
    assert len(code.strip().splitlines()) <= 12, "the minimal subscriber should stay a few lines"
    assert code.count(DEFAULT_ENDPOINT) == 1
    with ZmqPublisher("test-site", ZmqConfig(endpoint="tcp://127.0.0.1:*")) as pub:
        script = tmp_path / "subscriber.py"
        script.write_text(code.replace(DEFAULT_ENDPOINT, pub.endpoint), encoding="utf-8")
        proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            assert pub.wait_for_subscribers(1, timeout=60), "the snippet never subscribed"
            for i in range(3):
                pub.publish("objects", {"objects": []}, source="fusion", schema="rsu.objects/1")
            pub.publish_binary("v2x/cpm", {"encoding": "cpm-uper"}, b"\x01\x02\x03")
            lines = [proc.stdout.readline().split() for _ in range(4)]
        finally:
            proc.kill()
            proc.communicate()
    assert lines == [
        ["rsu/test-site/objects/fusion", "0", "rsu.objects/1"],
        ["rsu/test-site/objects/fusion", "1", "rsu.objects/1"],
        ["rsu/test-site/objects/fusion", "2", "rsu.objects/1"],
        ["rsu/test-site/v2x/cpm", "0", "rsu.v2x.cpm/1"],
    ]


def test_doc_names_every_product_schema_and_rule(doc: str) -> None:
    for product in BUILTIN_PRODUCTS:
        assert f"`{product}`" in doc, product
    for schema_id in schema_ids():
        assert f"`{schema_id}`" in doc, schema_id
    for key in ("schema", "site", "source", "boot", "seq", "t_event", "t_publish", "encoding", "bytes"):
        assert f"`{key}`" in doc, key
    assert PRODUCT_PATTERN in doc
    assert "starts at 0" in doc and "+1 per message" in doc and "`(boot, seq)` is gap-free per topic" in doc
    assert "rsu keys generate" in doc and "--server-key" in doc and "--client-key" in doc
