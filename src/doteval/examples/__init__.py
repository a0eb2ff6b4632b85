"""Runnable examples shipped with doteval: ``python -m doteval.examples.arithmetic``."""
