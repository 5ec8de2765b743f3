"""labkit: the helper package behind the labkit labs notebooks.

One import serves every notebook: ``import labkit`` then ``labkit.data``,
``labkit.models``, ``labkit.train``, ``labkit.timing``, ``labkit.counting``, ...
"""

__version__ = "0.1.0"
