"""A complete storage backend written the way a third party would: with doteval.storage only.

``tests/conftest.py`` registers it under the ``doteval.storage`` entry-point group
(scheme ``dict://``) and adds it to the ``store_url`` fixture, so it passes the
same store contract suite as the built-in backends.
"""
