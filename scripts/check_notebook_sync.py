"""Check that every launch notebook is what its MyST page converts to.

Usage: python scripts/check_notebook_sync.py [chapters/NN_topic.md | .ipynb ...]

Without arguments, checks every chapter page of ``_toc.yml``; a file given as an argument
is checked with its partner (``.md`` or ``.ipynb``), so pre-commit can pass the changed
files. A notebook is in sync when its code cells are the page's code cells and its markdown
cells, converted from the page with the glued values of its own outputs, are what it holds
(``launch_notebooks.py``). Exits with status 1, naming each page out of sync and the command
that regenerates it. Outputs are not compared: nbval does that (``make test``).
"""

import sys
from pathlib import Path

from launch_notebooks import main

if __name__ == "__main__":
    pages = sorted({str(Path(arg).with_suffix(".md")) for arg in sys.argv[1:]})
    sys.exit(main(["--check", *pages]))
