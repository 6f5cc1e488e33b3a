"""The ``site`` section: the site's name and the WGS84 origin of its ENU frame."""

from __future__ import annotations

from pydantic import Field

from rsu.config.base import StrictModel


class SiteConfig(StrictModel):
    """Where the box is; positions are published in metres East/North/Up from this origin."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="site id, used in topics rsu/<site>/...")
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    alt: float = 0.0
