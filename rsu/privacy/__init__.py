"""Privacy: frames that leave the box have heads/faces and licence plates blurred first."""

from rsu.privacy.blur import Redactor, blur_regions, privacy_regions

__all__ = ["Redactor", "blur_regions", "privacy_regions"]
