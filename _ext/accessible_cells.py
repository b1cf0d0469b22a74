"""Sphinx extension of this book: the collapsed setup cell's toggle gets an honest name.

myst-nb 1.4.0 writes a hidden cell (tag ``hide-input``) as ``<details>`` whose
``<summary aria-label="Toggle hidden content">`` shows the text "Show the setup cell for
Colab and Binder". The aria-label replaces that text for screen readers, and its words are
not those on screen, which WCAG 2.1 success criterion 2.5.3 (Label in Name) forbids
(axe-core: ``label-content-name-mismatch``). This extension draws the same HTML without the
aria-label, so the summary's name is its visible text. ``<details>``/``<summary>`` is
operable by keyboard (Tab, then Enter or Space) in every browser.

Listed in ``_config.yml`` (``sphinx.local_extensions`` and ``sphinx.config.extensions``).
"""

from html import escape

from myst_nb.sphinx_ import HideCodeCellNode, depart_HideCellInput


def visit_hide_cell_input(self, node):
    """myst_nb.sphinx_.visit_HideCellInput (myst-nb 1.4.0) without the summary's aria-label."""
    classes = " ".join(node["classes"])
    self.body.append(f'<details class="admonition hide {classes}">\n')
    self.body.append("<summary>\n")
    self.body.append(f'<p class="collapsed admonition-title">{escape(node["prompt_show"])}</p>\n')
    self.body.append(f'<p class="expanded admonition-title">{escape(node["prompt_hide"])}</p>\n')
    self.body.append("</summary>\n")


def setup(app):
    app.setup_extension("myst_nb")
    app.add_node(
        HideCodeCellNode, override=True, html=(visit_hide_cell_input, depart_HideCellInput)
    )
    return {"parallel_read_safe": True, "parallel_write_safe": True}
