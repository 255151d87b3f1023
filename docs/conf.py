"""
Sphinx configuration for Odradek's narrative documentation.

The API reference is built separately by pydoctor into C{_build/html/api}; the narrative
pages link to it with plain relative links.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "Odradek"
author = "The Odradek developers"
copyright = "2026, The Odradek developers"
release = "0.1.0.dev0"

extensions = ["odradek_configref"]
exclude_patterns = ["_build", "api", "_ext"]
html_theme = "alabaster"
html_static_path: list[str] = []
nitpicky = True
