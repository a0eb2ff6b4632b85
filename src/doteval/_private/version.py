"""The version of doteval, which the build reads (``[tool.hatch.version]``) and runs record."""

__version__ = "0.1.0"
