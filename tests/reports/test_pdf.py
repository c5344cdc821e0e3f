"""Tests for reports/pdf.py: no SSRF / local file reads, static files, PDF/UA, determinism."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pypdf import PdfReader

from reports.pdf import INTERNAL_BASE_URL, RefusedURL, StaticOnlyURLFetcher, render_pdf

REPO_ROOT = Path(__file__).resolve().parents[2]
PASSWD_MARKER = "root:x:0:0"


def html_to_text(pdf_bytes: bytes) -> str:
    """All the text pypdf can extract, pages joined by form feeds."""
    return "\f".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf_bytes)).pages)


def page_texts(pdf_bytes: bytes) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf_bytes)).pages]


def render(html: str, static_root: Path, **kwargs) -> bytes:
    kwargs.setdefault("title", "Test report")
    kwargs.setdefault("author", "Office of the Chief AI Officer")
    return render_pdf(html, static_root=static_root, **kwargs)


@pytest.fixture
def static_root(tmp_path: Path) -> Path:
    root = tmp_path / "static"
    (root / "css").mkdir(parents=True)
    (root / "css" / "x.css").write_text(
        'body::before { content: "STATIC-CSS-LOADED"; }\n', encoding="utf-8"
    )
    (root / "img").mkdir()
    (root / "img" / "box.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20">'
        '<rect width="20" height="20"/></svg>',
        encoding="utf-8",
    )
    # A "secret" right next to the static root, for traversal attempts.
    (tmp_path / "secret.css").write_text(
        'body::after { content: "SECRET-LEAKED"; }\n', encoding="utf-8"
    )
    return root


class Listener:
    """A real TCP listener on 127.0.0.1 that records every connection it accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.connections: list[tuple[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, addr = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(addr)
            conn.settimeout(0.5)
            try:  # answer like a server would, so a client that connects gets data
                conn.recv(4096)
                conn.sendall(
                    b"HTTP/1.0 200 OK\r\nContent-Type: text/css\r\n\r\n"
                    b'body::after { content: "FETCHED-FROM-NETWORK"; }'
                )
            except OSError:
                pass
            finally:
                conn.close()

    def __enter__(self) -> Listener:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def _embedded_files_and_file_annots(pdf_bytes: bytes) -> tuple[bool, int]:
    reader = PdfReader(io.BytesIO(pdf_bytes))
    root = reader.trailer["/Root"]
    names = root.get("/Names")
    has_embedded = bool(names is not None and "/EmbeddedFiles" in names.get_object())
    file_annots = 0
    for page in reader.pages:
        for annot in page.get("/Annots") or []:
            if annot.get_object().get("/Subtype") == "/FileAttachment":
                file_annots += 1
    return has_embedded, file_annots


# --------------------------------------------------------------------------- SSRF


def test_no_network_or_local_file_access(static_root: Path, caplog) -> None:
    with Listener() as listener:
        base = f"http://127.0.0.1:{listener.port}"
        html = f"""<!doctype html>
<html lang="en"><head>
<title>SSRF probe</title>
<link rel="stylesheet" href="{base}/s.css">
<link rel="attachment" href="file:///etc/passwd">
<link rel="attachment" href="{base}/attachment.bin">
<style>
  @import url({base}/i.css);
  @font-face {{ font-family: Remote; src: url({base}/f.woff); }}
  h1 {{ background-image: url({base}/bg.png); font-family: Remote; }}
</style>
</head><body>
<h1>Probe</h1>
<img src="{base}/x.png" alt="x">
<img src="file:///etc/hostname" alt="hostname">
<div style="background: url({base}/inline.png)">inline style</div>
<div style="background-image: url(file:///etc/passwd)">inline file</div>
<object data="{base}/object.svg" type="image/svg+xml"></object>
<embed src="{base}/embed.svg" type="image/svg+xml">
<svg width="40" height="40" xmlns="http://www.w3.org/2000/svg"
     xmlns:xlink="http://www.w3.org/1999/xlink">
  <image href="{base}/svg-image.png" width="10" height="10"/>
  <image xlink:href="file:///etc/passwd" width="10" height="10"/>
</svg>
<a rel="attachment" href="file:///etc/passwd">passwd as annotation</a>
<a rel="attachment" href="{base}/annot.bin">remote annotation</a>
<p>body text</p>
</body></html>"""
        fetcher = StaticOnlyURLFetcher(static_root)
        caplog.set_level("WARNING")
        pdf = render(html, static_root, url_fetcher=fetcher)

    assert listener.connections == [], "the renderer connected to the listener"
    assert pdf.startswith(b"%PDF-")
    text = html_to_text(pdf)
    assert "body text" in text
    assert "FETCHED-FROM-NETWORK" not in text
    assert PASSWD_MARKER not in text
    assert PASSWD_MARKER.encode() not in pdf

    has_embedded, file_annots = _embedded_files_and_file_annots(pdf)
    assert not has_embedded, "PDF has /EmbeddedFiles"
    assert file_annots == 0, "PDF has /FileAttachment annotations"

    # The fetcher saw (and refused) the probes, including the file:// attachment.
    assert fetcher.served == []
    assert "file:///etc/passwd" in fetcher.refused
    assert "file:///etc/hostname" in fetcher.refused
    assert f"{base}/x.png" in fetcher.refused
    assert f"{base}/s.css" in fetcher.refused
    assert f"{base}/i.css" in fetcher.refused
    assert f"{base}/inline.png" in fetcher.refused
    assert any("refused" in r.getMessage() for r in caplog.records if r.name == "reports.pdf")


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "http://127.0.0.1/static/css/x.css",
        "https://registry.invalid.example.com/static/css/x.css",
        "https://evil@registry.invalid/static/css/x.css",
        "https://registry.invalid:8443/static/css/x.css",
        "http://registry.invalid/static/css/x.css",
        "data:text/css,body{}",
        "ftp://registry.invalid/static/css/x.css",
        "https://registry.invalid/etc/passwd",
        "https://registry.invalid/static/",
        "https://registry.invalid/static/css",  # a directory
        "https://registry.invalid/static/nope.css",
        "https://registry.invalid/static/%2e%2e/secret.css",
        "https://registry.invalid/static/..%2fsecret.css",
        "https://registry.invalid/static/css/..%2f..%2fsecret.css",
        "https://registry.invalid/static/%2Fetc/passwd",
        "https://registry.invalid/static/css%5c..%5c..%5csecret.css",
        "https://registry.invalid/static/css/x.css%00.png",
    ],
)
def test_fetcher_refuses(static_root: Path, url: str) -> None:
    fetcher = StaticOnlyURLFetcher(static_root)
    with pytest.raises(RefusedURL):
        fetcher.fetch(url)
    assert fetcher.refused == [url]


def test_fetcher_refuses_symlink_out_of_root(static_root: Path) -> None:
    (static_root / "link.css").symlink_to(static_root.parent / "secret.css")
    with pytest.raises(RefusedURL):
        StaticOnlyURLFetcher(static_root).fetch(INTERNAL_BASE_URL + "static/link.css")


def test_fetcher_is_a_weasyprint_urlfetcher(static_root: Path) -> None:
    # WeasyPrint 70's urls.fetch() reads url_fetcher._fail_on_errors when the fetcher
    # raises; a plain function crashes the render, a non-fatal subclass skips.
    from weasyprint.urls import URLFetcher

    fetcher = StaticOnlyURLFetcher(static_root)
    assert isinstance(fetcher, URLFetcher)
    assert fetcher._fail_on_errors is False


# ----------------------------------------------------------------- static files


def test_static_files_are_served(static_root: Path) -> None:
    html = """<!doctype html><html lang="en"><head><title>t</title>
<link rel="stylesheet" href="/static/css/x.css?v=3"></head>
<body><p>hello</p><img src="/static/img/box.svg" alt="box"></body></html>"""
    fetcher = StaticOnlyURLFetcher(static_root)
    text = html_to_text(render(html, static_root, url_fetcher=fetcher))
    assert "STATIC-CSS-LOADED" in text
    assert fetcher.served == [
        INTERNAL_BASE_URL + "static/css/x.css?v=3",
        INTERNAL_BASE_URL + "static/img/box.svg",
    ]
    assert fetcher.refused == []

    # Without the link the marker is absent: the stylesheet really changed the output.
    assert "STATIC-CSS-LOADED" not in html_to_text(
        render(html.replace("x.css", "y.css"), static_root)
    )


def test_custom_static_prefix(static_root: Path) -> None:
    html = '<html lang="en"><head><link rel="stylesheet" href="/assets/css/x.css"></head><body>b</body></html>'
    text = html_to_text(render(html, static_root, static_url_prefix="/assets/"))
    assert "STATIC-CSS-LOADED" in text


@pytest.mark.parametrize(
    "href",
    [
        "/static/../../etc/passwd",
        "/static/../secret.css",
        "/static/%2e%2e/secret.css",
        "/static/css/..%2f..%2fsecret.css",
        "static/../secret.css",
        "../secret.css",
    ],
)
def test_dotdot_escape_is_refused(static_root: Path, href: str) -> None:
    html = f"""<html lang="en"><head><link rel="stylesheet" href="{href}"></head>
<body><p>content</p><img src="{href}" alt=""></body></html>"""
    fetcher = StaticOnlyURLFetcher(static_root)
    pdf = render(html, static_root, url_fetcher=fetcher)
    text = html_to_text(pdf)
    assert "content" in text
    assert "SECRET-LEAKED" not in text
    assert PASSWD_MARKER not in text
    assert fetcher.served == []
    assert len(fetcher.refused) == 2


# ---------------------------------------------------------------------- PDF/UA


def test_pdf_ua_structure_and_metadata(static_root: Path) -> None:
    html = """<!doctype html><html lang="fr"><head><title>Ignored title</title></head>
<body><h1>Inventory</h1><p>Text.</p></body></html>"""
    pdf = render(
        html,
        static_root,
        title="AI Use Case Inventory 2025",
        author="Jane Roe, CAIO",
        subject="Annual inventory",
    )
    reader = PdfReader(io.BytesIO(pdf))
    root = reader.trailer["/Root"]
    assert "/StructTreeRoot" in root
    assert root["/MarkInfo"]["/Marked"].value is True
    assert root["/Lang"] == "en"
    assert root["/ViewerPreferences"]["/DisplayDocTitle"].value is True
    assert reader.pdf_header == "%PDF-1.7"

    info = reader.metadata
    assert info.title == "AI Use Case Inventory 2025"
    assert info.author == "Jane Roe, CAIO"
    assert info.subject == "Annual inventory"

    xmp = reader.xmp_metadata
    assert xmp is not None
    assert xmp.dc_title == {"x-default": "AI Use Case Inventory 2025"}
    assert xmp.dc_creator == ["Jane Roe, CAIO"]
    raw_xmp = root["/Metadata"].get_object().get_data()
    assert b"pdfuaid" in raw_xmp and re.search(rb"pdfuaid:part=.1.", raw_xmp)


def test_lang_parameter(static_root: Path) -> None:
    pdf = render("<html><body><p>Hola</p></body></html>", static_root, lang="es-US")
    assert PdfReader(io.BytesIO(pdf)).trailer["/Root"]["/Lang"] == "es-US"


def test_title_is_required(static_root: Path) -> None:
    with pytest.raises(ValueError):
        render("<p>x</p>", static_root, title="  ")


# ----------------------------------------------------------------- determinism

DETERMINISM_HTML = (
    """<!doctype html><html lang="en"><head><title>d</title></head><body>
<h1 class="report-title">Determinism</h1>
<table><thead><tr><th>System</th><th>Status</th></tr></thead><tbody>
"""
    + "".join(
        f'<tr><td>System {i}</td><td><span class="badge badge--{s}">{s}</span></td></tr>'
        for i, s in zip(range(60), ["pass", "warn", "fail", "info"] * 15, strict=True)
    )
    + """</tbody></table>
<svg class="chart" viewBox="0 0 100 50" role="img" aria-label="Bars">
<rect x="5" y="10" width="20" height="40"/><text x="5" y="8" font-size="6">Bars</text></svg>
</body></html>"""
)


def test_same_input_same_output(static_root: Path) -> None:
    first = render(DETERMINISM_HTML, static_root)
    second = render(DETERMINISM_HTML, static_root)
    assert html_to_text(first) == html_to_text(second)
    assert first == second


def test_same_bytes_across_processes(tmp_path: Path, static_root: Path) -> None:
    """Different interpreter processes (and hash seeds) give byte-identical PDFs."""
    (tmp_path / "in.html").write_text(DETERMINISM_HTML, encoding="utf-8")
    script = (
        "import sys; from pathlib import Path; from reports.pdf import render_pdf; "
        "sys.stdout.buffer.write(render_pdf(Path(sys.argv[1]).read_text(), "
        "static_root=Path(sys.argv[2]), title='Test report', "
        "author='Office of the Chief AI Officer'))"
    )
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO_ROOT)}
        env.pop("SOURCE_DATE_EPOCH", None)
        result = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / "in.html"), str(static_root)],
            capture_output=True,
            check=True,
            timeout=120,
            env=env,
            cwd=REPO_ROOT,
        )
        outputs.append(result.stdout)
    assert outputs[0].startswith(b"%PDF-")
    assert outputs[0] == outputs[1]
    assert outputs[0] == render(DETERMINISM_HTML, static_root)


# ------------------------------------------------------- pages, TOC, layout


PAGED_HTML = """<!doctype html><html lang="en"><head><title>Paged</title></head><body>
<h1 class="report-title">Quarterly AI Oversight Report</h1>
<nav class="toc" aria-label="Contents"><ol>
  <li><a href="#first">Intro section</a></li>
  <li><a href="#second">Middle section</a></li>
  <li><a href="#third">Final section</a></li>
</ol></nav>
<h2 id="first">Intro section</h2><p>One.</p>
<div class="page-break"></div>
<h2 id="second">Middle section</h2><p>Two.</p>
<div class="page-break"></div>
<h2 id="third">Final section</h2><p>Three.</p>
</body></html>"""


def test_page_n_of_m_and_toc_page_numbers(static_root: Path) -> None:
    pdf = render(PAGED_HTML, static_root)
    pages = page_texts(pdf)
    assert len(pages) == 3
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of 3" in text
    # Running header (string-set) on pages 2 and 3, not on the first page.
    assert "Quarterly AI Oversight Report" in pages[1]

    toc = pages[0]
    for label, page in (("Intro section", 1), ("Middle section", 2), ("Final section", 3)):
        assert re.search(rf"{label}\s*[.\s]*\s{page}\b", toc), (label, toc)

    # The TOC entries are internal links to the right pages.
    reader = PdfReader(io.BytesIO(pdf))
    page_refs = [p.indirect_reference for p in reader.pages]
    named = reader.named_destinations
    targets = []
    for annot in reader.pages[0].get("/Annots") or []:
        annot = annot.get_object()
        if annot.get("/Subtype") != "/Link":
            continue
        dest = annot.get("/Dest")
        if dest is None and "/A" in annot:
            dest = annot["/A"].get("/D")
        if isinstance(dest, str):
            dest = named[dest]
            page_ref = dest.page
        else:
            page_ref = dest[0]
        page_ref = getattr(page_ref, "indirect_reference", None) or page_ref
        targets.append(page_refs.index(page_ref) + 1)
    # A link may be split into several annotation rectangles (text + leader + number).
    assert list(dict.fromkeys(targets)) == [1, 2, 3]


def test_table_rows_do_not_split_and_header_repeats(static_root: Path) -> None:
    # Each row: a label plus a tall cell of unique words r<i>w<j>.
    rows = "".join(
        f"<tr><td>Row {i}</td><td>{' '.join(f'r{i}w{j}' for j in range(40))}</td></tr>"
        for i in range(40)
    )
    html = f"""<html lang="en"><body><table><thead><tr><th>Name</th><th>Notes</th></tr></thead>
<tbody>{rows}</tbody></table></body></html>"""
    pages = page_texts(render(html, static_root))
    assert len(pages) > 1
    for text in pages:
        assert "Name" in text  # thead repeated on every page

    def pages_with(pattern: str) -> list[int]:
        return [n for n, text in enumerate(pages) if re.search(pattern, text)]

    for i in range(40):
        label = pages_with(rf"\bRow\s+{i}\b")
        assert len(label) == 1, (i, label)
        # First and last words of the tall cell are on the label's page: row not split.
        assert pages_with(rf"\br{i}w0\b") == label
        assert pages_with(rf"\br{i}w39\b") == label


def test_print_css_uses_dejavu_and_letter(static_root: Path) -> None:
    pdf = render("<html lang='en'><body><p>Fonts</p></body></html>", static_root)
    reader = PdfReader(io.BytesIO(pdf))
    page = reader.pages[0]
    assert [round(float(v)) for v in page.mediabox] == [0, 0, 612, 792]  # US Letter
    fonts = page["/Resources"]["/Font"]
    names = {fonts[k].get_object()["/BaseFont"] for k in fonts}
    assert names and all("DejaVu" in str(n) for n in names), names


def test_the_cyclic_collector_is_paused_only_while_rendering(static_root: Path, monkeypatch) -> None:
    import gc

    import reports.pdf as pdf_module

    seen = []
    real_render = pdf_module._render

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return real_render(*args, **kwargs)

    monkeypatch.setattr(pdf_module, "_render", spy)
    html = "<html lang='en'><body><p>GC</p></body></html>"
    assert gc.isenabled()
    render(html, static_root)
    assert seen == [False] and gc.isenabled()
    render(html, static_root)
    before = len(gc.get_objects())
    for _ in range(3):
        render(html, static_root)
    assert len(gc.get_objects()) < before + 2000  # the renders' cycles were collected
    gc.disable()
    try:
        render(html, static_root)
        assert not gc.isenabled()  # a collector the caller disabled stays disabled
    finally:
        gc.enable()
    monkeypatch.setattr(pdf_module, "GC_PAUSE_MAX_HTML", len(html) - 1)
    render(html, static_root)
    assert seen[-1] is True  # a big document renders with the collector on


def test_font_configuration_is_reused_per_thread_unless_the_document_brings_fonts(static_root: Path) -> None:
    import threading

    from reports.pdf import _font_configuration

    mine = _font_configuration("<p>x</p>")
    assert _font_configuration("<p>y</p>") is mine
    assert _font_configuration("<style>@font-face { font-family: X; src: url(/static/x.ttf) }</style>") is not mine
    other = []
    thread = threading.Thread(target=lambda: other.append(_font_configuration("<p>z</p>")))
    thread.start()
    thread.join()
    assert other[0] is not mine
    html = "<html lang='en'><body><p>Same bytes with a warm font map</p></body></html>"
    assert render(html, static_root) == render(html, static_root)
