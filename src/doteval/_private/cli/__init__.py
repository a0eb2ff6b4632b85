"""The ``doteval`` command line: the group in ``app``, the commands in the other modules,
all registered by ``main``."""
