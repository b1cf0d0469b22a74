"""Turn executed MyST pages into launch notebooks in plain Jupyter Markdown.

Usage:
    python scripts/launch_notebooks.py --check [chapters/NN_topic.md ...]
    python scripts/launch_notebooks.py --refresh [chapters/NN_topic.md ...]

The Colab and Binder buttons of a page open its ``chapters/NN_topic.ipynb``. Colab and
JupyterLab do not read MyST, so the markdown cells of that notebook are converted here into
plain Jupyter Markdown: admonitions become quoted blocks with a bold title, exercises
numbered headings and their solutions a (collapsed) "Solution" heading, ``literalinclude``
the included code, glued values the values of the run, cross-references and citations links
to the published book (``html.baseurl`` of ``_config.yml``), labels disappear. Code cells are
the page's code cells, unchanged, with the outputs of the reference run.

``make notebooks`` executes each page (``make_reference_notebooks.py``) and calls
:func:`launch_notebook` on the result. ``--refresh`` converts the pages again with the
outputs already in their notebooks (after a prose-only edit, or ``make repoint``);
``--check`` (run by ``make lint``) fails when a committed notebook differs from what its
page converts to. A construct that has no plain-Markdown form here stops the conversion
with the page, the line and what to do: nothing passes through unconverted.
"""

from __future__ import annotations

import ast
import copy
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import jupytext
import nbformat
import yaml
from markdown_it.renderer import RendererHTML
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.mdit import create_md_parser

import book

ROOT = Path(__file__).resolve().parent.parent
GLUE_PREFIX = "application/papermill.record/"
# Pages that train a model ask Colab for a GPU runtime (the "GPU" choice of Colab's
# "Change runtime type", saved as below). Key: page name prefix.
GPU_PAGES = ("05_", "06_", "07_", "08_")
COLAB_GPU = {"accelerator": "GPU", "colab": {"gpuType": "T4"}}

# The MyST syntax the book enables (_config.yml, Jupyter Book's defaults): dollar math,
# amsmath, colon fences. The same parser recognises what must not survive conversion.
_MD = create_md_parser(
    MdParserConfig(enable_extensions={"dollarmath", "amsmath", "colon_fence"}), RendererHTML
)
# Token types that are MyST syntax, never plain Jupyter Markdown.
MYST_TOKENS = {
    "myst_role",
    "myst_target",
    "myst_line_comment",
    "myst_block_break",
    "math_block_label",
    # Footnotes: MyST renders them, Jupyter's Markdown shows [^1] as it is.
    "footnote_ref",
    "footnote_block_open",
}


class ConversionError(Exception):
    """A page holds MyST that has no plain-Markdown form here (or refers to nothing)."""


# ----------------------------------------------------------------------------- the book


def page_cells(path):
    """Markdown and code cells of a page: jupytext for a MyST notebook, else one cell."""
    text = path.read_text(encoding="utf-8")
    if text.startswith("---") and "jupytext" in text.split("\n---", 2)[0]:
        return jupytext.reads(text, fmt="md:myst").cells
    if text.startswith("---\n"):
        text = text.split("\n---\n", 1)[1]
    return [nbformat.v4.new_markdown_cell(text)]


def split_directive(token):
    """(name, argument, options, body) of a directive fence token ``{name} arg``."""
    match = re.fullmatch(r"\{([^}\s]+)\}\s*(.*)", token.info.strip())
    name, argument = match.group(1), match.group(2).strip()
    lines = token.content.split("\n")
    options = {}
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if end is None:
            raise ConversionError(f"{{{name}}}: YAML options without a closing ---")
        options = yaml.safe_load("\n".join(lines[1:end])) or {}
        lines = lines[end + 1 :]
    else:
        while lines and re.match(r"^:[\w-]+:", lines[0]):
            key, _, value = lines.pop(0)[1:].partition(":")
            options[key] = value.strip()
    body = "\n".join(lines).strip("\n")
    return name, argument, {k: ("" if v is None else str(v)) for k, v in options.items()}, body


def plain_text(markdown):
    """The text of an inline Markdown title: no emphasis, code marks or math dollars."""
    text = re.sub(r"\{[\w:+-]+\}`([^`<]*?)(?:\s*<[^`]*>)?`", r"\1", markdown)
    return re.sub(r"[*_`]", "", text).strip()


@dataclass
class Target:
    """Something a page can refer to: a page, a section, a numbered element."""

    docname: str  # page path without suffix, from the book's root
    anchor: str | None  # HTML id on that page; None for the page itself
    title: str
    kind: str = "section"  # section, exercise, equation, figure, or a prf type
    number: int | None = None


# Sphinx numbers these with numfig; Jupyter Book's tables of contents are not numbered, so
# each kind has one counter for the whole book, in the order of the table of contents.
PROOF_KINDS = (
    "axiom theorem lemma algorithm definition remark conjecture corollary criterion example "
    "property observation proposition assumption notation"
).split()
NUMBERED_DIRECTIVES = {"exercise": "exercise", "figure": "figure", "glue:figure": "figure"}
NUMBERED_DIRECTIVES.update({f"prf:{kind}": kind for kind in PROOF_KINDS})
KIND_TITLES = {"exercise": "Exercise", "equation": "Equation", "figure": "Fig."}


class Book:
    """What the conversion needs to know of the whole book: its settings and targets."""

    def __init__(self, root=ROOT):
        self.root = Path(root)
        self.config = book.config(self.root)
        self.docnames = [str(Path(name).with_suffix("")) for name in book.toc_files(self.root)]
        self.targets = {}  # label -> Target
        self.titles = {}  # docname -> page title
        self.counters = {}
        self.starts = {}  # docname -> the counters before that page
        for docname in self.docnames:
            path = self.root / f"{docname}.md"
            self.starts[docname] = dict(self.counters)
            if path.is_file():
                self._collect(docname, page_cells(path))
        self.bibliography = self._bibliography()

    # -- settings
    @property
    def base_url(self):
        base = (self.config.get("html") or {}).get("baseurl", "")
        if not base:
            raise ConversionError("_config.yml has no html.baseurl (run `make repoint`)")
        return base.rstrip("/") + "/"

    def url(self, docname, anchor=None):
        return f"{self.base_url}{docname}.html" + (f"#{anchor}" if anchor else "")

    def raw_url(self, path):
        """URL of a file of the repository, as Colab can fetch it."""
        repo = self.config["repository"]
        parts = urlsplit(repo["url"])
        rel = Path(path).resolve().relative_to(self.root).as_posix()
        return f"https://raw.githubusercontent.com{parts.path.rstrip('/')}/{repo['branch']}/{rel}"

    # -- targets and their numbers
    def _number(self, kind):
        self.counters[kind] = self.counters.get(kind, 0) + 1
        return self.counters[kind]

    def _add(self, label, target):
        if label in self.targets:
            other = self.targets[label].docname
            raise ConversionError(f"label {label!r} defined twice ({other} and {target.docname})")
        self.targets[label] = target

    def _add_equation(self, docname, label):
        """Record a numbered equation (``$$ ... $$ (label)`` or a labelled ``math`` directive)."""
        target = Target(
            docname, f"equation-{make_id(label)}", "", "equation", self._number("equation")
        )
        self._add(label, target)

    def _collect(self, docname, cells):
        pending = []  # labels waiting for the next heading
        for cell in cells:
            if cell.cell_type == "code":
                figure = (cell.metadata.get("mystnb") or {}).get("figure") or {}
                if figure.get("name"):
                    number = self._number("figure")
                    title = plain_text(str(figure.get("caption", "")))
                    self._add(
                        figure["name"], Target(docname, figure["name"], title, "figure", number)
                    )
                continue
            self._collect_markdown(docname, cell.source, pending)

    def _collect_markdown(self, docname, text, pending):
        tokens = _MD.parse(text)
        for i, token in enumerate(tokens):
            if token.type == "myst_target":
                pending.append(token.content)
            elif token.type == "heading_open":
                title = plain_text(tokens[i + 1].content)
                if docname not in self.titles:
                    self.titles[docname] = title
                    for label in pending:
                        self._add(label, Target(docname, None, title))
                else:
                    for label in pending:
                        self._add(label, Target(docname, make_id(label), title))
                pending.clear()
            elif token.type == "math_block_label":
                self._add_equation(docname, token.info)
            elif token.type in ("fence", "colon_fence") and token.info.strip().startswith("{"):
                name, argument, options, body = split_directive(token)
                kind = NUMBERED_DIRECTIVES.get(name)
                label = options.get("label") or options.get("name")
                if name == "math" and label:
                    self._add_equation(docname, label)
                elif kind in ("exercise", *PROOF_KINDS) and "nonumber" not in options:
                    number = self._number(kind)
                    if label:
                        self._add(label, Target(docname, label, plain_text(argument), kind, number))
                elif kind == "figure" and label:
                    number = self._number("figure")
                    self._add(
                        label, Target(docname, make_id(label), plain_text(body), kind, number)
                    )
                elif label and name not in ("solution-start", "solution"):
                    self._add(label, Target(docname, make_id(label), plain_text(argument)))
                if body and name not in ("literalinclude", "code-block", "code", "math"):
                    self._collect_markdown(docname, body, pending)

    def _bibliography(self):
        sphinx_config = (self.config.get("sphinx") or {}).get("config") or {}
        files = self.config.get("bibtex_bibfiles") or sphinx_config.get("bibtex_bibfiles") or []
        entries = {}
        for name in files:
            from pybtex.database import parse_file

            for key, entry in parse_file(str(self.root / name)).entries.items():
                people = entry.persons.get("author") or entry.persons.get("editor") or []
                last = [" ".join(p.prelast_names + p.last_names) for p in people]
                last = [re.sub(r"[{}]", "", name) for name in last]
                if len(last) > 2:
                    authors = f"{last[0]} et al."
                else:
                    authors = " and ".join(last) or key
                entries[key] = (authors, entry.fields.get("year", "n.d."))
        return entries


def make_id(label):
    """The HTML id Sphinx gives a label (docutils' ``make_id``)."""
    from docutils.nodes import make_id as docutils_make_id

    return docutils_make_id(label)


# ------------------------------------------------------------------------ conversion


@dataclass
class PageState:
    """What the conversion of one page carries from cell to cell."""

    book: Book
    docname: str
    glued: dict  # key -> mime bundle of the glued value (from the executed notebook)
    section_level: int = 1
    exercise_level: int = 3
    exercises: dict = field(default_factory=dict)  # label -> number
    attachments: dict = field(default_factory=dict)  # of the cell being converted
    collapse: list = field(default_factory=list)  # generated headings to fold (solutions)

    def __post_init__(self):
        self.counters = dict(self.book.starts.get(self.docname, {}))

    def next_number(self, kind, label=None):
        """The book's number of the next element of this kind (numfig order)."""
        self.counters[kind] = self.counters.get(kind, 0) + 1
        number = self.counters[kind]
        target = self.book.targets.get(label or "")
        if target is not None and target.number != number:
            self.fail(f"{kind} {label!r}: numbered {number} here, {target.number} in the book")
        return number

    @property
    def page_dir(self):
        return (self.book.root / self.docname).parent

    def fail(self, message):
        raise ConversionError(f"{self.docname}.md: {message}")


SPLIT = "\x00split\x00"  # a generated heading starts a cell of its own
COLLAPSE = "\x00collapse\x00"  # ... which Colab and JupyterLab show folded


def quote(text):
    if SPLIT in text:
        raise ConversionError("an exercise or solution inside a box: put it at the top level")
    return "\n".join(("> " + line).rstrip() for line in text.split("\n"))


def heading(level, text):
    return "#" * min(level, 6) + " " + text


ADMONITIONS = {
    "note": "Note",
    "tip": "Tip",
    "hint": "Hint",
    "important": "Important",
    "warning": "Warning",
    "caution": "Caution",
    "attention": "Attention",
    "danger": "Danger",
    "error": "Error",
    "seealso": "See also",
}
TITLED_BOXES = {"admonition", "dropdown", "margin", "sidebar", "topic", "epigraph"}


def convert_directive(token, state, offset=0):
    """Plain Markdown for a directive; ``offset``: lines of the page above its text."""
    name, argument, options, body = split_directive(token)
    line = offset + token.map[0] + 1
    where = f"line {line}, {{{name}}}"
    body_offset = line + token.content[: token.content.find(body)].count("\n") if body else line

    def convert_markdown(text, state, offset=body_offset):
        return _convert_markdown(text, state, offset)

    if name in ADMONITIONS:
        content = "\n\n".join(part for part in (argument, body) if part)
        return quote(f"**{ADMONITIONS[name]}**\n\n{convert_markdown(content, state)}")
    if name in TITLED_BOXES:
        inner = convert_markdown(body, state)
        title = convert_markdown(argument, state) if argument else ""
        return quote(f"**{title}**\n\n{inner}" if title else inner)
    if name == "exercise":
        number = (
            None if "nonumber" in options else state.next_number("exercise", options.get("label"))
        )
        if options.get("label"):
            state.exercises[options["label"]] = number
        title = "Exercise" + (f" {number}" if number else "")
        title += f" ({plain_text(argument)})" if argument else ""
        state.exercise_level = state.section_level + 1
        return f"{SPLIT}{heading(state.exercise_level, title)}\n\n{convert_markdown(body, state)}"
    if name in ("solution-start", "solution"):
        if argument not in state.exercises:
            state.fail(f"{where}: solution of {argument!r}, which is no exercise above it")
        number = state.exercises[argument]
        title = "Solution to Exercise" + (f" {number}" if number else "")
        text = f"{SPLIT}{COLLAPSE}{heading(state.exercise_level + 1, title)}"
        return text + (f"\n\n{convert_markdown(body, state)}" if name == "solution" else "")
    if name == "solution-end":
        return ""
    if name.startswith("prf:"):
        kind = name[4:]
        if kind == "proof":
            return f"*Proof.* {convert_markdown(body, state)} $\\square$"
        if kind not in PROOF_KINDS:
            state.fail(f"{where}: unknown sphinx-proof directive")
        number = (
            "" if "nonumber" in options else f" {state.next_number(kind, options.get('label'))}"
        )
        title = f" ({convert_markdown(argument, state)})" if argument else ""
        return quote(f"**{kind.title()}{number}{title}.**\n\n{convert_markdown(body, state)}")
    if name == "literalinclude":
        return fenced(
            literal_include(argument, options, state, where), _language(argument, options)
        )
    if name in ("code-block", "code", "sourcecode"):
        return fenced(body, argument or options.get("language", ""))
    if name == "math":
        label = options.get("label") or options.get("name")
        return display_math(body, state.book.targets[label].number if label else None)
    if name in ("figure", "image"):
        image = f"![{options.get('alt', '')}]({_file_url(argument, state, where)})"
        caption = convert_markdown(body, state) if name == "figure" and body else ""
        return image + (f"\n\n*{caption}*" if caption else "")
    if name in ("glue:figure", "glue", "glue:any"):
        key = argument
        image = glued_image(key, state, where)
        caption = convert_markdown(body, state) if body else ""
        target = state.book.targets.get(options.get("name", ""))
        if target and target.number:
            caption = f"Fig. {target.number}. {caption}".strip()
        return image + (f"\n\n*{caption}*" if caption else "")
    state.fail(
        f"{where}: this directive has no plain-Markdown form for the launch notebooks. "
        "Add one to convert_directive in scripts/launch_notebooks.py, or use another construct."
    )


def fenced(code, language=""):
    ticks = "```"
    while ticks in code:
        ticks += "`"
    return f"{ticks}{language}\n{code.rstrip()}\n{ticks}"


def _language(argument, options):
    if options.get("language"):
        return options["language"]
    return {".py": "python", ".yml": "yaml", ".yaml": "yaml", ".sh": "bash"}.get(
        Path(argument).suffix, ""
    )


def _source_path(argument, state, where):
    path = (
        (state.book.root / argument.lstrip("/"))
        if argument.startswith("/")
        else (state.page_dir / argument)
    )
    if not path.is_file():
        state.fail(f"{where}: {argument} is not a file")
    return path.resolve()


def literal_include(argument, options, state, where):
    """The text Sphinx's ``literalinclude`` shows (Sphinx's own reader does the work)."""
    from sphinx.config import Config
    from sphinx.directives.code import LiteralIncludeReader

    path = _source_path(argument, state, where)
    known = {
        "pyobject",
        "lines",
        "start-after",
        "end-before",
        "start-at",
        "end-at",
        "dedent",
        "prepend",
        "append",
        "encoding",
        "tab-width",
        "diff",
    }
    cosmetic = {
        "language",
        "linenos",
        "lineno-start",
        "lineno-match",
        "emphasize-lines",
        "caption",
        "name",
        "class",
        "force",
    }
    unknown = set(options) - known - cosmetic
    if unknown:
        state.fail(f"{where}: option(s) {sorted(unknown)} not supported here")
    reader_options = {k: v for k, v in options.items() if k in known}
    if "dedent" in reader_options:
        reader_options["dedent"] = int(reader_options["dedent"] or 0) or None
    try:
        text, _ = LiteralIncludeReader(str(path), reader_options, Config()).read()
    except Exception as err:  # Sphinx raises ValueError with its own message
        state.fail(f"{where}: {err}")
    return text


def _file_url(argument, state, where):
    if re.match(r"^[a-z]+://", argument):
        return argument
    return state.book.raw_url(_source_path(argument, state, where))


def display_math(body, number=None):
    body = body.strip()
    tag = ""
    if number is not None and not re.match(r"\\begin\{(align|gather|multline|equation)", body):
        tag = f" \\tag{{{number}}}"
    return f"$$\n{body}{tag}\n$$"


def glued_bundle(key, state, where):
    if key not in state.glued:
        state.fail(f"{where}: {key!r} is not glued by this page's run")
    return state.glued[key]


def glued_text(key, state, where, fmt=""):
    bundle = glued_bundle(key, state, where)
    text = bundle.get("text/plain")
    if text is None:
        state.fail(f"{where}: {key!r} is glued without a text value")
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = ast.literal_eval(text)
    if fmt:
        try:
            text = format(float(text), fmt)
        except ValueError:
            state.fail(f"{where}: cannot format {text!r} with {fmt!r}")
    return text


def glued_image(key, state, where):
    bundle = glued_bundle(key, state, where)
    for mime, suffix in (("image/png", "png"), ("image/jpeg", "jpg"), ("image/svg+xml", "svg")):
        if mime in bundle:
            name = f"{key}.{suffix}"
            data = bundle[mime]
            state.attachments[name] = {mime: data if isinstance(data, str) else "".join(data)}
            return f"![{key}](attachment:{name})"
    if "text/plain" in bundle:
        return glued_text(key, state, where)
    state.fail(f"{where}: {key!r} is glued without an image")


# Roles: {name}`content`. Code spans and math are matched first, so that nothing inside
# them is touched.
INLINE = re.compile(
    r"(?P<role>\{(?P<name>[A-Za-z][\w:+.-]*)\}(?P<ticks>`+)(?P<content>.+?)(?P=ticks))"
    r"|(?P<code>(?P<cticks>`+).+?(?P=cticks))"
    r"|(?P<math>\$\$.+?\$\$|(?<![\\$])\$[^$\n]+?\$)",
    re.DOTALL,
)
CITE_ROLES = {
    "cite",
    "cite:p",
    "cite:ps",
    "cite:t",
    "cite:ts",
    "cite:ct",
    "cite:cp",
    "cite:author",
    "cite:year",
    "cite:alp",
    "cite:text",
}


def explicit_title(content):
    match = re.fullmatch(r"(.*?)\s*<([^<>]+)>", content.strip(), re.DOTALL)
    return (match.group(1).strip(), match.group(2).strip()) if match else (None, content.strip())


def link(text, url):
    text = text.replace("[", "\\[").replace("]", "\\]")
    return f"[{text}]({url})"


def convert_role(name, content, state, where):
    book = state.book
    if name in ("glue", "glue:", "glue:text", "glue:any"):
        key, _, fmt = content.partition(":")
        return glued_text(key.strip(), state, where, fmt if name == "glue:text" else "")
    if name == "glue:md":
        return glued_bundle(content, state, where).get("text/markdown", "")
    if name == "math":
        return f"${content}$"
    if name in ("ref", "numref", "eq", "prf:ref"):
        text, label = explicit_title(content)
        target = book.targets.get(label)
        if target is None:
            state.fail(f"{where}: no label {label!r} in the book")
        number = target.number
        kind = KIND_TITLES.get(target.kind, target.kind.title())
        if name == "eq":
            text = text or f"({number})"
        elif name in ("numref", "prf:ref") and number is not None:
            if text:
                text = text.replace("%s", str(number)).replace("{number}", str(number))
                text = text.replace("{name}", target.title)
            else:
                text = f"{kind} {number}"
        elif not text:
            text = target.title or (f"{kind} {number}" if number else label)
        return link(text, book.url(target.docname, target.anchor))
    if name == "doc":
        text, path = explicit_title(content)
        docname = str(
            Path(path.lstrip("/")) if path.startswith("/") else (Path(state.docname).parent / path)
        ).replace("\\", "/")
        docname = str(Path(docname).with_suffix("")) if docname.endswith(".md") else docname
        docname = _normalize(docname)
        if docname not in book.titles:
            state.fail(f"{where}: {content!r} is no page of the book")
        return link(text or book.titles[docname], book.url(docname))
    if name in CITE_ROLES:
        keys = [key.strip() for key in content.split(",")]
        missing = [key for key in keys if key not in book.bibliography]
        if missing:
            state.fail(f"{where}: {missing} not in the bibliography (_config.yml bibtex_bibfiles)")
        if "references" not in book.titles:
            state.fail(f"{where}: a citation needs the References page (references.md in _toc.yml)")
        url = book.url("references")
        parts = []
        for key in keys:
            authors, year = book.bibliography[key]
            if name in ("cite:t", "cite:ts", "cite:ct"):
                parts.append(f"{link(authors, url)} [{link(year, url)}]")
            elif name == "cite:author":
                parts.append(link(authors, url))
            elif name == "cite:year":
                parts.append(link(year, url))
            else:
                parts.append(link(f"{authors}, {year}", url))
        if name in ("cite", "cite:p", "cite:ps", "cite:cp"):
            return "[" + "; ".join(parts) + "]"
        return ", ".join(parts)
    if name in ("sub", "sup", "kbd"):
        return f"<{name}>{content}</{name}>"
    if name == "abbr":
        return content
    if name == "download":
        text, path = explicit_title(content)
        return link(text or Path(path).name, _file_url(path, state, where))
    state.fail(
        f"{where}: the role {{{name}}} has no plain-Markdown form for the launch notebooks. "
        "Add one to convert_role in scripts/launch_notebooks.py, or use another construct."
    )


def _normalize(docname):
    parts = []
    for part in docname.split("/"):
        if part == "..":
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def convert_inline(text, state, first_line):
    def replace(match):
        if not match.group("role"):
            return match.group(0)
        line = first_line + text[: match.start()].count("\n")
        return convert_role(
            match.group("name"),
            match.group("content"),
            state,
            f"line {line}, {{{match.group('name')}}}",
        )

    return INLINE.sub(replace, text)


def convert_markdown(text, state, line_offset=0):
    """Plain Jupyter Markdown for a MyST Markdown text (a cell, or a directive's body).

    ``line_offset``: the number of lines of the page above the text (for error messages).
    """
    tokens = _MD.parse(text)
    lines = text.split("\n")
    regions = []  # (first line, end line, replacement), in order, not overlapping
    covered = -1
    for token in tokens:
        if token.map is None or token.map[0] < covered:
            continue
        start, end = token.map
        if token.type == "heading_open" and token.level == 0:
            state.section_level = int(token.tag[1])
        elif token.type in ("fence", "colon_fence") and token.info.strip().startswith("{"):
            indent = re.match(r"[ \t]*", lines[start]).group(0)
            if lines[start].lstrip().startswith(">"):
                state.fail(f"line {start + 1 + line_offset}: a directive inside a quote")
            replacement = convert_directive(token, state, line_offset)
            if indent and replacement:
                replacement = "\n".join(indent + x if x else x for x in replacement.split("\n"))
            regions.append((start, end, replacement))
            covered = end
        elif token.type in ("myst_target", "myst_line_comment"):
            regions.append((start, end, None))
            covered = end
        elif token.type == "math_block_label":
            target = state.book.targets.get(token.info)
            regions.append((start, end, display_math(token.content, target and target.number)))
            covered = end
        elif token.type in ("fence", "code_block", "math_block", "amsmath", "html_block"):
            regions.append((start, end, "\n".join(lines[start:end])))  # verbatim
            covered = end
        elif token.type == "myst_block_break":
            state.fail(f"line {start + 1 + line_offset}: a +++ block break inside a cell")
    out, position = [], 0
    for start, end, replacement in regions:
        chunk = "\n".join(lines[position:start])
        if position < start:
            out.append(convert_inline(chunk, state, position + 1 + line_offset))
        if replacement is not None:
            out.append(replacement)
        position = end
    if position < len(lines):
        out.append(convert_inline("\n".join(lines[position:]), state, position + 1 + line_offset))
    result = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", result).strip("\n")


def myst_left(text):
    """Descriptions of the MyST syntax left in a Markdown text (empty: plain Markdown)."""
    found = []
    for token in _walk(_MD.parse(text)):
        if token.type in MYST_TOKENS:
            found.append(f"{token.type} {token.markup or token.content or token.info!r}")
        elif token.type in ("fence", "colon_fence") and token.info.strip().startswith("{"):
            found.append(f"directive {token.info.strip()}")
    if "{glue" in text:
        found.append("{glue text")
    return found


def _walk(tokens):
    for token in tokens:
        yield token
        if token.children:
            yield from _walk(token.children)


# ----------------------------------------------------------------------- notebooks


def glued_values(nb):
    """{key: mime bundle, prefix removed} of every value a notebook's run glued."""
    values = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = out.get("data", {})
            scrap = out.get("metadata", {}).get("scrapbook")
            if out.get("output_type") == "display_data" and scrap:
                values[scrap["name"]] = {
                    mime[len(GLUE_PREFIX) :]: value
                    for mime, value in data.items()
                    if mime.startswith(GLUE_PREFIX)
                }
    return values


def colab_metadata(name, gpu):
    colab = {"name": name, "provenance": [], "toc_visible": True}
    metadata = {
        "colab": colab,
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    if gpu:
        colab.update(COLAB_GPU["colab"])
        metadata["accelerator"] = COLAB_GPU["accelerator"]
    return metadata


def launch_notebook(page, executed, book=None):
    """The launch notebook of a page, from the page and its executed notebook.

    ``executed`` holds the page's cells in order, code cells with their outputs (the
    reference run). Markdown cells are converted; code cells are copied unchanged.
    """
    page = Path(page).resolve()
    book = book or Book()
    docname = page.relative_to(book.root).with_suffix("").as_posix()
    source = jupytext.read(page)
    code_in = [c for c in source.cells if c.cell_type == "code"]
    code_run = [c for c in executed.cells if c.cell_type == "code"]
    if [c.source for c in code_in] != [c.source for c in code_run]:
        raise ConversionError(
            f"{docname}.md: its code cells differ from those of the executed notebook; "
            f"run `make notebooks PAGES={docname}.md`"
        )
    state = PageState(book, docname, glued_values(executed))
    cells, runs = [], iter(code_run)
    page_text, cursor = page.read_text(encoding="utf-8"), 0
    for index, cell in enumerate(source.cells):
        found = page_text.find(cell.source, cursor)
        line = page_text.count("\n", 0, found) if found >= 0 else 0
        cursor = found + len(cell.source) if found >= 0 else cursor
        if cell.cell_type == "code":
            run = copy.deepcopy(next(runs))
            run.id = f"cell-{index:03d}"
            run.outputs = merged_streams(run.get("outputs", []))
            cells.append(run)
            caption = figure_caption(cell, state, line)
            if caption:
                cells.append(nbformat.v4.new_markdown_cell(caption, id=f"cell-{index:03d}-caption"))
            continue
        if "remove-cell" in cell.metadata.get("tags", []):
            continue  # not in the book either
        state.attachments = {}
        try:
            text = convert_markdown(cell.source, state, line)
        except ConversionError as err:
            if str(err).startswith(f"{docname}.md"):
                raise
            raise ConversionError(f"{docname}.md: near line {line + 1}: {err}") from None
        parts = [part.strip("\n") for part in text.split(SPLIT)]
        parts = [part for part in parts if part.strip()]
        for n, part in enumerate(parts):
            cell_id = f"cell-{index:03d}" + (f"-{n}" if n else "")
            new = nbformat.v4.new_markdown_cell(part.replace(COLLAPSE, ""), id=cell_id)
            if n == 0:
                new.metadata.update(copy.deepcopy(dict(cell.metadata)))
            if part.startswith(COLLAPSE):
                # Folded like the book's dropdown: JupyterLab reads the cell's metadata,
                # Colab its notebook metadata (collapsed_sections lists cell metadata ids).
                new.metadata["id"] = cell_id
                new.metadata["jp-MarkdownHeadingCollapsed"] = True
                state.collapse.append(cell_id)
            used = {k: v for k, v in state.attachments.items() if f"attachment:{k}" in part}
            if used:
                new["attachments"] = used
            left = myst_left(new.source)
            if left:
                raise ConversionError(f"{docname}.md: MyST left after conversion: {left}")
            cells.append(new)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = colab_metadata(page.with_suffix(".ipynb").name, page.name.startswith(GPU_PAGES))
    if state.collapse:
        nb.metadata["colab"]["collapsed_sections"] = state.collapse
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nb


_convert_markdown = convert_markdown


def merged_streams(outputs):
    """Consecutive stream outputs of one stream as one (how nbval compares them too), so
    that a cell's printed lines do not split differently from run to run."""
    merged = []
    for out in outputs:
        last = merged[-1] if merged else None
        if (
            out.get("output_type") == "stream"
            and last is not None
            and last.get("output_type") == "stream"
            and last.get("name") == out.get("name")
        ):
            last["text"] += out["text"]
        else:
            merged.append(out)
    return merged


def figure_caption(cell, state, line=0):
    """The caption that myst-nb puts under a code cell's figure (cell metadata), if any."""
    figure = (cell.metadata.get("mystnb") or {}).get("figure") or {}
    if not figure.get("caption"):
        return ""
    caption = convert_markdown(str(figure["caption"]), state, line)
    target = state.book.targets.get(figure.get("name", ""))
    if target is not None and target.number:
        caption = f"Fig. {target.number}. {caption}"
    return f"*{caption}*"


def write_notebook(nb, target):
    """Write atomically: a failed conversion leaves the previous notebook in place."""
    target = Path(target)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(notebook_text(nb), encoding="utf-8")
    partial.replace(target)


def notebook_text(nb):
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


SETUP_MARK = "MMIDS_REPO_URL"  # names the setup cell (see repository.py)


def refreshed(page, book):
    """The launch notebook a page converts to, with the outputs its notebook holds now.

    The setup cell is taken from the page (``make repoint`` rewrites it; it prints nothing
    where ``mmids`` is installed, so its outputs stay valid).
    """
    notebook = page.with_suffix(".ipynb")
    current = nbformat.read(notebook, as_version=4)
    page_code = [c for c in jupytext.read(page).cells if c.cell_type == "code"]
    run_code = [c for c in current.cells if c.cell_type == "code"]
    for mine, theirs in zip(page_code, run_code, strict=False):
        if SETUP_MARK in mine.source and SETUP_MARK in theirs.source and not theirs.outputs:
            theirs.source = mine.source
    return launch_notebook(page, current, book)


def pages_from(args, book):
    if args:
        return [(Path.cwd() / arg).resolve().with_suffix(".md") for arg in args]
    return [
        book.root / f"{name}.md"
        for name in book.docnames
        if name.startswith("chapters/") and (book.root / f"{name}.md").is_file()
    ]


def main(argv):
    if not argv or argv[0] not in ("--check", "--refresh"):
        raise SystemExit(__doc__)
    mode, args = argv[0], argv[1:]
    book = Book()
    problems = []
    for page in pages_from(args, book):
        notebook = page.with_suffix(".ipynb")
        rel = page.relative_to(book.root).as_posix()
        if not notebook.is_file():
            problems.append(f"{rel} has no launch notebook: run `make notebooks PAGES={rel}`")
            continue
        try:
            nb = refreshed(page, book)
        except ConversionError as err:
            problems.append(str(err))
            continue
        if mode == "--refresh":
            write_notebook(nb, notebook)
            print(f"{notebook.relative_to(book.root)}: converted again")
        elif notebook.read_text(encoding="utf-8") != notebook_text(nb):
            problems.append(
                f"{notebook.relative_to(book.root)} differs from what {rel} converts to: run "
                f"`make notebooks PAGES={rel}` (code changed) or `make launch-notebooks` (prose)"
            )
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
