"""scripts/book.py, the one reader of the book's facts: pages, cell timeout, cores."""

import pytest

import book

TOC_WITH_PARTS = """\
format: jb-book
root: intro
parts:
  - caption: Foundations
    chapters:
      - file: chapters/01_a
        sections:
          - file: chapters/02_b
  - caption: Networks
    chapters:
      - file: chapters/03_c
      - file: appendix
"""


def test_the_pages_of_a_toc_with_parts_and_sections_come_in_reading_order(tmp_path):
    (tmp_path / "_toc.yml").write_text(TOC_WITH_PARTS)
    assert book.toc_files(tmp_path) == [
        "intro",
        "chapters/01_a",
        "chapters/02_b",
        "chapters/03_c",
        "appendix",
    ]
    assert book.chapter_pages(tmp_path) == [
        tmp_path / "chapters" / name for name in ("01_a", "02_b", "03_c")
    ]


def test_only_pages_with_a_kernel_are_executed(tmp_path):
    (tmp_path / "_toc.yml").write_text(TOC_WITH_PARTS)
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "01_a.md").write_text("---\nkernelspec: {name: python3}\n---\n# A\n")
    (tmp_path / "chapters" / "02_b.md").write_text("# B, prose only\n")
    assert book.notebook_pages(tmp_path) == [tmp_path / "chapters" / "01_a.md"]


def test_the_cell_timeout_is_the_one_of_the_config(tmp_path):
    (tmp_path / "_config.yml").write_text("execute:\n  timeout: 77\n")
    assert book.cell_timeout(tmp_path) == 77
    assert book.cell_timeout() == book.config()["execute"]["timeout"]


@pytest.mark.parametrize(
    "tasks, jobs, cores, expected",
    [
        (9, None, 8, (8, 1)),  # one job per core, one thread each
        (9, 2, 8, (2, 4)),  # the cores shared between the jobs
        (1, None, 8, (1, None)),  # one job keeps PyTorch's default
        (3, 16, 2, (3, 1)),  # never more jobs than pages, never less than one thread
    ],
)
def test_jobs_and_threads_share_the_cores(monkeypatch, tasks, jobs, cores, expected):
    monkeypatch.delenv("MMIDS_BUILD_JOBS", raising=False)
    assert book.jobs_and_threads(tasks, jobs, cores) == expected


def test_mmids_build_jobs_sets_the_default_number_of_jobs(monkeypatch):
    monkeypatch.setenv("MMIDS_BUILD_JOBS", "2")
    assert book.jobs_and_threads(9, cores=8) == (2, 4)
