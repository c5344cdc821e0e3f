"""Render report HTML to tagged (PDF/UA-1) PDF with WeasyPrint, without network access.

This is a pure rendering helper: it does not import Flask. The caller passes the
directory that backs the app's ``/static/`` URLs (``current_app.static_folder``)::

    pdf = render_pdf(html, static_root=Path(current_app.static_folder),
                     title="AI use case inventory", author="Office of the CAIO")

Security model
--------------
WeasyPrint's default URL fetcher fetches any URL it finds in the HTML or CSS
(``<img>``, ``<link rel=stylesheet>``, ``@import``, ``url()`` in style attributes,
``@font-face``, SVG ``<image>``/``<use>``), follows HTTP redirects, reads ``file://``
URLs, and embeds whatever ``<link rel="attachment">`` / ``<a rel="attachment">`` point
at as PDF file attachments. Report HTML contains user-supplied text, so every render
here uses :class:`StaticOnlyURLFetcher`, which

* resolves the document against a fixed, non-routable base URL
  (``https://registry.invalid/``, the ``.invalid`` TLD never resolves);
* serves only ``https://registry.invalid<static_url_prefix><path>`` from files under
  ``static_root`` (percent-decoded, resolved with symlinks, and required to stay
  inside ``static_root``, so ``..`` / ``%2e%2e`` cannot escape);
* refuses everything else -- other hosts, ``http:``, ``file:``, ``data:``, ``ftp:`` --
  by raising :class:`RefusedURL` *before* any I/O. It never calls into urllib.

WeasyPrint 70 requires the fetcher to be a :class:`weasyprint.urls.URLFetcher`
instance: ``weasyprint.urls.fetch()`` calls ``url_fetcher(url)`` and, when that raises,
reads ``url_fetcher._fail_on_errors``; a plain function therefore dies with an
``AttributeError`` that aborts the whole render. With a subclass (``fail_on_errors``
left ``False``) the exception becomes ``URLFetchingError``, which WeasyPrint catches
and logs on the ``weasyprint`` logger ("Failed to load image/stylesheet/attachment"),
skipping the resource. ``write_pdf_attachment`` returns ``None`` on that error, so a
refused attachment embeds nothing (no ``/EmbeddedFiles``, no ``/FileAttachment``).

Determinism
-----------
WeasyPrint 70 writes no timestamps of its own for PDF/UA: ``/CreationDate`` and
``/ModDate`` only come from ``<meta name="dcterms.created|modified">`` in the HTML
(the only random value, an XMP ``DocumentID`` uuid4, is written for PDF/X-4 only, and
attachment dates are moot because attachments are refused). Font subset names are
derived from the glyph set, not random. The file ``/ID`` is requested with
``pdf_identifier=True``, which pydyf derives from an MD5 of the PDF objects, so it is
content-based too. Result: the same HTML renders to byte-identical PDFs (checked by
``tests/reports/test_pdf.py``); ``SOURCE_DATE_EPOCH`` is not needed.

Print stylesheet
----------------
``reports/static/reports/print.css`` (US Letter, DejaVu Sans, "Page N of M",
TOC page numbers, table/heading break rules, colour-independent badges, ``.chart``)
is applied to every render as a user stylesheet, read from the package directory
(not fetched), unless ``include_print_css=False``. Templates may also link it as
``/static/reports/print.css`` if the blueprint serves it; don't do both.
"""

from __future__ import annotations

import gc
import logging
import mimetypes
import os
import threading
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from reports import svg_text

__all__ = [
    "INTERNAL_BASE_URL",
    "PRINT_CSS_PATH",
    "RefusedURL",
    "StaticOnlyURLFetcher",
    "render_pdf",
]

LOGGER = logging.getLogger(__name__)

# Simple SVG text (every chart label) is shaped and drawn as one run, not letter by letter.
svg_text.install()

#: Base URL the report HTML is resolved against. ``.invalid`` is reserved (RFC 2606)
#: and never resolves, and the fetcher never does any network I/O anyway.
INTERNAL_BASE_URL = "https://registry.invalid/"

#: The print stylesheet applied to every report.
PRINT_CSS_PATH = Path(__file__).resolve().parent / "static" / "reports" / "print.css"

#: Largest static file the fetcher will hand to WeasyPrint.
MAX_STATIC_BYTES = 20 * 1024 * 1024

PDF_VARIANT = "pdf/ua-1"

# mimetypes' answer can depend on /etc/mime.types; pin the types reports use.
_CONTENT_TYPES = {
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
}


class RefusedURL(ValueError):
    """Raised by :class:`StaticOnlyURLFetcher` for any URL it will not serve.

    A plain ``Exception`` (not ``FatalURLFetchingError``): WeasyPrint turns it into a
    logged ``URLFetchingError`` and skips the resource.
    """


class StaticOnlyURLFetcher(URLFetcher):
    """URL fetcher that serves the app's static files and refuses every other URL."""

    def __init__(
        self,
        static_root: Path | str,
        static_url_prefix: str = "/static/",
        base_url: str = INTERNAL_BASE_URL,
    ) -> None:
        # No protocol allowed, no redirects, never fatal: belt and braces, since
        # fetch() below never reaches urllib's OpenerDirector machinery.
        super().__init__(
            timeout=1,
            allowed_protocols=frozenset(),
            allow_redirects=False,
            fail_on_errors=False,
        )
        self.static_root = Path(static_root).resolve()
        if not static_url_prefix.startswith("/"):
            static_url_prefix = "/" + static_url_prefix
        if not static_url_prefix.endswith("/"):
            static_url_prefix += "/"
        self.static_url_prefix = static_url_prefix
        base = urlsplit(base_url)
        self._scheme = base.scheme.lower()
        self._netloc = base.netloc.lower()
        #: URLs served / refused during this fetcher's life (for logging and tests).
        self.served: list[str] = []
        self.refused: list[str] = []

    def resolve(self, url: str) -> Path:
        """Return the file under ``static_root`` that ``url`` names, or raise RefusedURL."""
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise RefusedURL(f"malformed URL: {url!r}") from exc
        if parts.scheme.lower() != self._scheme or parts.netloc.lower() != self._netloc:
            raise RefusedURL(f"only the app's own static files may be loaded: {url!r}")
        path = unquote(parts.path)
        if not path.startswith(self.static_url_prefix):
            raise RefusedURL(f"not under {self.static_url_prefix}: {url!r}")
        relative = path[len(self.static_url_prefix) :]
        if not relative or "\x00" in relative or "\\" in relative:
            raise RefusedURL(f"bad static path: {url!r}")
        segments = relative.split("/")
        if any(segment in ("..", ".") for segment in segments) or relative.startswith("/"):
            raise RefusedURL(f"path traversal refused: {url!r}")
        candidate = (self.static_root / relative).resolve()
        if not candidate.is_relative_to(self.static_root):
            raise RefusedURL(f"escapes static root: {url!r}")
        if not candidate.is_file():
            raise RefusedURL(f"no such static file: {url!r}")
        return candidate

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        try:
            path = self.resolve(url)
            size = path.stat().st_size
            if size > MAX_STATIC_BYTES:
                raise RefusedURL(f"static file too large ({size} bytes): {url!r}")
            body = path.read_bytes()
        except Exception:
            self.refused.append(url)
            LOGGER.warning("PDF render: refused to load %.200r", url)
            raise
        self.served.append(url)
        content_type = (
            _CONTENT_TYPES.get(path.suffix.lower())
            or mimetypes.guess_type(path.name)[0]
            or "application/octet-stream"
        )
        return URLFetcherResponse(url, body, {"Content-Type": content_type}, 200)

    # urllib entry points WeasyPrint might use: route them through fetch() only.
    def open(self, url, data=None, timeout=None):  # noqa: D102
        full_url = url.full_url if hasattr(url, "full_url") else url
        return self.fetch(full_url)

    def __call__(self, url: str) -> URLFetcherResponse:
        return self.fetch(url)


#: Documents up to this much HTML render with the cyclic collector paused (see
#: cyclic_gc_paused). A 3-check accountability report is ~125 kB, the board packet
#: ~1 kB per pilot; bigger documents keep the collector, so their cyclic garbage
#: can't pile up (a 500-pilot packet peaked 120 MiB higher without it).
GC_PAUSE_MAX_HTML = 256 * 1024

_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = False


@contextmanager
def cyclic_gc_paused():
    """Pause Python's cyclic garbage collector while WeasyPrint renders.

    A render allocates hundreds of thousands of objects (boxes, styles, Pango wrappers),
    which keeps triggering collections; each full one walks the whole heap of the app
    (~270,000 objects with Flask, SQLAlchemy and pandas loaded), and a report's render paid
    0.15-0.3 s for them. Almost everything a render allocates is freed by reference
    counting anyway; what is left in cycles is collected as usual once the collector runs
    again after the render. Nested and concurrent renders share one pause; a collector
    that was already disabled stays disabled.
    """
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()
                gc.collect(0)  # the render's leftovers are all in the youngest generation


_font_configurations = threading.local()


def _font_configuration(sources: str) -> FontConfiguration:
    """This thread's reusable fontconfig/Pango font map, or a new one for a document that
    brings its own fonts (``@font-face`` must not outlive the render that loaded it).

    A fresh ``FontConfiguration`` per render also meant a fresh Pango font map, whose font
    and glyph caches every render had to fill again. Pango objects are not shared between
    threads. The PDF bytes are the same either way.
    """
    if "@font-face" in sources:
        return FontConfiguration()
    config = getattr(_font_configurations, "config", None)
    if config is None:
        config = _font_configurations.config = FontConfiguration()
    return config


@lru_cache(maxsize=1)
def _print_css_text(mtime_ns: int) -> str:  # mtime in the key: edits are picked up
    return PRINT_CSS_PATH.read_text(encoding="utf-8")


def render_pdf(
    html: str,
    *,
    static_root: Path,
    static_url_prefix: str = "/static/",
    title: str,
    author: str,
    lang: str = "en",
    subject: str | None = None,
    include_print_css: bool = True,
    url_fetcher: StaticOnlyURLFetcher | None = None,
) -> bytes:
    """Render ``html`` to PDF/UA-1 bytes.

    ``title``, ``author``, ``lang`` and ``subject`` override whatever the HTML's
    ``<title>``, ``<meta name="author">``, ``<html lang>`` and
    ``<meta name="description">`` say, so the PDF metadata is always set.
    Only static files under ``static_root`` (as ``static_url_prefix`` URLs) are
    loaded; every other URL is refused and the resource skipped (see module doc).
    ``url_fetcher`` lets tests inspect what was served/refused.
    """
    if not title or not title.strip():
        raise ValueError("a PDF/UA document needs a title")
    if url_fetcher is None:
        url_fetcher = StaticOnlyURLFetcher(static_root, static_url_prefix)

    print_css = _print_css_text(os.stat(PRINT_CSS_PATH).st_mtime_ns) if include_print_css else ""
    font_config = _font_configuration(html + print_css)
    stylesheets = []
    if include_print_css:
        stylesheets.append(
            CSS(
                string=print_css,
                base_url=INTERNAL_BASE_URL,
                url_fetcher=url_fetcher,
                font_config=font_config,
            )
        )
    options = {
        "stylesheets": stylesheets,
        "pdf_variant": PDF_VARIANT,  # implies pdf_version 1.7 and pdf_tags=True
        "pdf_tags": True,
        "pdf_identifier": True,  # /ID = MD5 of the PDF objects: deterministic
        "custom_metadata": False,  # don't copy arbitrary <meta> into /Info
    }
    with cyclic_gc_paused() if len(html) <= GC_PAUSE_MAX_HTML else nullcontext():
        return _render(html, url_fetcher, font_config, options, title=title, author=author, lang=lang,
                       subject=subject)


def _render(html, url_fetcher, font_config, options, *, title, author, lang, subject) -> bytes:
    # A function of its own, so the document is garbage by the time the collector resumes.
    document = HTML(
        string=html,
        base_url=INTERNAL_BASE_URL,
        url_fetcher=url_fetcher,
        media_type="print",
    ).render(font_config=font_config, **options)

    metadata = document.metadata
    metadata.title = title
    metadata.authors = [author]
    metadata.lang = lang
    if subject is not None:
        metadata.description = subject
    pdf_options = {key: value for key, value in options.items() if key != "stylesheets"}
    return document.write_pdf(**pdf_options)
