"""The static report page: claims table first, each figure once with its caption, no JavaScript."""

from __future__ import annotations

import html
import shutil
import subprocess

import numpy as np
import pytest

from deeplinear.claims import Claim, write_claims_json
from deeplinear.pipeline.report import FigureEntry, format_value, render_report, write_report

CLAIMS = [
    Claim("X1", "paper_a", "Theorem 1: a <= b", 0.5, 1.0, "measured <= 1 [the paper's statement]", True, "n=10"),
    Claim("X2", "paper_a", "Lemma 2 & <co>", 1.5, 1.0, 0.1, False, "failed at h=100"),
    Claim("Y1", "paper_b", "slope", float("nan"), -0.5, "±0.05", False),
]


@pytest.fixture
def png(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot(np.arange(5), np.arange(5) ** 2)
    path = tmp_path / "fig.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def test_claims_table_comes_first_and_marks_failures(png):
    figures = [FigureEntry("paper_a", "one", png, "Caption one."), FigureEntry("paper_b", "two", png, "Caption 2.")]
    page = render_report(CLAIMS, figures, paper_titles={"paper_a": "Paper A"}, provenance="Scale: quick.")
    assert page.index('<table id="claims">') < page.index("<figure")
    assert "1 of 3 theorem checks passed; failed: X2, Y1." in page
    assert page.count('class="verdict">FAIL<') == 2 and page.count('class="verdict">pass<') == 1
    assert html.escape("Lemma 2 & <co>") in page and "<co>" not in page  # escaped
    assert page.count("Caption one.") == 1 and page.count("Caption 2.") == 1
    assert "<script" not in page and "<h2>Paper A</h2>" in page and "<h2>paper_b</h2>" in page
    assert page.count("data:image/png;base64,") == 2


def test_values_are_shown_to_four_significant_digits():
    assert format_value(0.8244680607961182) == "0.8245"
    assert format_value(1.2e-15) == "1.2e-15"
    assert format_value(float("nan")) == "nan"
    assert format_value("<= 2") == "<= 2"
    assert format_value(3) == "3"


def test_written_page_is_deterministic(tmp_path, png):
    claims_file = write_claims_json(CLAIMS, tmp_path / "c.json")
    figures = [FigureEntry("paper_a", "one", png, "Caption one.")]
    a = write_report([claims_file], figures, tmp_path / "a.html", paper_titles={}, provenance="p")
    b = write_report([claims_file], figures, tmp_path / "b.html", paper_titles={}, provenance="p")
    assert a.read_bytes() == b.read_bytes()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt install chromium)")
def test_headless_chromium_renders_the_table(tmp_path, png):
    """Render the page in a real browser; the screenshot must show content, not a blank page."""
    page = tmp_path / "report.html"
    write_report(
        [write_claims_json(CLAIMS, tmp_path / "c.json")],
        [FigureEntry("paper_a", "one", png, "Caption one.")],
        page,
        paper_titles={},
        provenance="p",
    )
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1000,800",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (800, 1000)
    # the pass (green) and FAIL (red) verdict cells are drawn
    green = (pixels[..., 1] > pixels[..., 0] + 0.03) & (pixels[..., 1] > 0.85)
    red = (pixels[..., 0] > pixels[..., 1] + 0.03) & (pixels[..., 0] > 0.85)
    assert green.sum() > 200 and red.sum() > 400
