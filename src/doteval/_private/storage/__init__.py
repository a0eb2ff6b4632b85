"""Where runs are kept: the ``Storage`` protocol, its backends, and reading results back."""
