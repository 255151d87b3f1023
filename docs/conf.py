"""
Sphinx configuration for Odradek's narrative documentation.

The API reference is built separately by pydoctor into C{_build/html/api}; the narrative
pages link to it with plain relative links.
"""

project = "Odradek"
author = "The Odradek developers"
copyright = "2026, The Odradek developers"
release = "0.1.0.dev0"

extensions: list[str] = []
exclude_patterns = ["_build", "api"]
html_theme = "alabaster"
html_static_path: list[str] = []
nitpicky = True
