"""shipmark: QA state recorded on Docker images in the registry."""

__version__ = "0.1.0"
