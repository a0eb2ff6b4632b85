"""``doteval view`` and ``doteval report``: the stored results as web pages.

Every read of the store goes through :mod:`.source`, so the pages never depend on how
a backend keeps its data; the rest turns what it returns into HTML.
"""
