"""Identify an uploaded file's type from its content, and reject dangerous or disguised files."""

from __future__ import annotations

import codecs
import os
import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import puremagic
import pyarrow.parquet as pq

from registry.errors import ValidationFailed

__all__ = [
    "EVIDENCE_KINDS",
    "Sniffed",
    "check_evidence",
    "check_tabular",
    "sniff",
]

HEAD_BYTES = 64 * 1024
MARKUP_SCAN_CHARS = 4096
MAX_ZIP_MEMBERS = 10_000
MAX_ZIP_UNCOMPRESSED = 1 << 30
# zipfile reads the whole central directory into memory and builds an object per entry
# before anything can be counted, so its declared size is bounded first.
MAX_ZIP_DIRECTORY_BYTES = 4 << 20
MAX_PARQUET_ROWS = 2_000_000_000
PARQUET_MAX_RATIO = 50
PARQUET_SLACK_BYTES = 1 << 30
# Share of control characters (other than tab, newlines, form feed and ESC) above which
# "text" is really binary data that happens to decode.
MAX_CONTROL_SHARE = 0.01

EVIDENCE_KINDS = ("pdf", "docx", "xlsx", "png", "jpeg", "text")
_EVIDENCE_ACCEPTED = "Accepted: PDF, DOCX, XLSX, PNG, JPEG, plain text."
_EXCEL_KINDS = frozenset({"xlsx", "xlsm", "xlsb", "ole2"})

_UTF8 = "text/plain; charset=utf-8"
_UTF16 = "text/plain; charset=utf-16"

# kind -> (media type, extension, description as it reads after "The file is ...")
_KINDS: dict[str, tuple[str, str, str]] = {
    "pdf": ("application/pdf", ".pdf", "a PDF document"),
    "png": ("image/png", ".png", "a PNG image"),
    "jpeg": ("image/jpeg", ".jpg", "a JPEG image"),
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ".docx",
        "a Word document",
    ),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ".xlsx",
        "an Excel workbook",
    ),
    "text": (_UTF8, ".txt", "plain text"),
    "parquet": ("application/vnd.apache.parquet", ".parquet", "a Parquet file"),
    "parquet_damaged": (
        "application/vnd.apache.parquet",
        ".parquet",
        "a truncated or damaged Parquet file",
    ),
    "empty": ("application/x-empty", "", "empty"),
    "pe": ("application/vnd.microsoft.portable-executable", ".exe", "a Windows executable"),
    "elf": ("application/x-executable", "", "a Linux executable (ELF)"),
    "macho": ("application/x-mach-binary", "", "a macOS executable (Mach-O)"),
    "java_class": ("application/java-vm", ".class", "a compiled Java class"),
    "script": ("text/x-shellscript", ".sh", "a script (it starts with #!)"),
    "html": ("text/html", ".html", "an HTML document"),
    "svg": ("image/svg+xml", ".svg", "an SVG image, which can carry scripts"),
    "script_markup": ("text/html", ".html", "markup containing a <script> element"),
    "rtf": ("application/rtf", ".rtf", "an RTF document, which can embed objects"),
    "ole2": (
        "application/x-ole-storage",
        "",
        "a legacy Microsoft Office file (such as .doc or .xls), which can carry macros",
    ),
    "docm": (
        "application/vnd.ms-word.document.macroEnabled.12",
        ".docm",
        "a macro-enabled Word document",
    ),
    "xlsm": (
        "application/vnd.ms-excel.sheet.macroEnabled.12",
        ".xlsm",
        "a macro-enabled Excel workbook",
    ),
    "xlsb": (
        "application/vnd.ms-excel.sheet.binary.macroEnabled.12",
        ".xlsb",
        "a binary Excel workbook",
    ),
    "office_macro": ("application/zip", "", "a macro-enabled Office document"),
    "pptx": (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ".pptx",
        "a PowerPoint presentation",
    ),
    "odf": ("application/vnd.oasis.opendocument", "", "an OpenDocument file"),
    "jar": ("application/java-archive", ".jar", "a Java archive (JAR)"),
    "apk": ("application/vnd.android.package-archive", ".apk", "an Android app (APK)"),
    "zip": ("application/zip", ".zip", "a ZIP archive"),
    "zip_bomb": (
        "application/zip",
        ".zip",
        "a ZIP archive with an implausible number of members or declared size (a possible zip bomb)",
    ),
    "zip_damaged": ("application/zip", ".zip", "a damaged ZIP archive"),
    "text_other_encoding": (
        "text/plain",
        ".txt",
        "text in an encoding other than UTF-8 or UTF-16",
    ),
    "binary": ("application/octet-stream", "", "unrecognised binary data"),
}

_MACHO = (
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbf",
)
_ZIP = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# The WHATWG MIME-sniffing patterns that make a browser treat a text file as HTML.
_HTML_TAGS = (
    "<!doctype html",
    "<html",
    "<head",
    "<script",
    "<iframe",
    "<h1",
    "<div",
    "<font",
    "<table",
    "<a",
    "<style",
    "<title",
    "<b",
    "<body",
    "<br",
    "<p",
)
_TAG_END = frozenset(" \t\n\r\f>/")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Sniffed:
    """What a file is: its media type, a short stable `kind` key and a usual extension."""

    media_type: str
    kind: str
    extension: str

    @property
    def description(self) -> str:
        """How the kind reads in a sentence, e.g. "a Windows executable"."""
        if self.kind == "binary" and self.extension:
            return f"binary data (it looks like a {self.extension} file)"
        return _KINDS[self.kind][2]


def _make(kind: str, media_type: str | None = None) -> Sniffed:
    default_media, extension, _ = _KINDS[kind]
    return Sniffed(media_type=media_type or default_media, kind=kind, extension=extension)


def sniff(path: str | os.PathLike[str]) -> Sniffed:
    """Identify a file from its first bytes and, for ZIP-based formats, its ZIP directory.

    Never extracts anything and never trusts the file name. Text is judged from the first
    64 KiB; :func:`check_evidence` verifies the rest.
    """
    with Path(path).open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        head = fh.read(HEAD_BYTES)
        if not head:
            return _make("empty")
        complete = len(head) >= size
        if head.startswith(b"%PDF-"):
            return _make("pdf")
        if head.startswith(b"\x89PNG\r\n\x1a\n"):
            return _make("png")
        if head.startswith(b"\xff\xd8\xff"):
            return _make("jpeg")
        if head.startswith(b"PAR1"):
            return _make(
                "parquet" if size >= 12 and _tail(fh, size, 4) == b"PAR1" else "parquet_damaged"
            )
        if head.startswith(_ZIP):
            return _make(_sniff_zip(fh, size))
        if head.startswith(_OLE2):
            return _make("ole2")
        if head.startswith(b"MZ") and _is_executable_mz(fh, head, size, complete):
            return _make("pe")
        if head.startswith(b"\x7fELF"):
            return _make("elf")
        if head.startswith(_MACHO):
            return _make("macho")
        if head.startswith(b"\xca\xfe\xba\xbe"):
            # Shared by Mach-O universal binaries (a small architecture count follows) and
            # Java classes (a class-file version of 45 or more follows).
            (count,) = struct.unpack(">I", head[4:8].ljust(4, b"\0"))
            return _make("macho" if count < 45 else "java_class")
        if head.startswith(b"#!"):
            return _make("script")
        if head.startswith(b"{\\rtf"):
            return _make("rtf")
        text = _classify_text(head, complete)
        if text is not None:
            return text
        if _looks_like_legacy_text(head):
            return _make("text_other_encoding")
        return _name_binary(head)


def check_evidence(
    path: str | os.PathLike[str], *, declared_filename: str | None = None
) -> Sniffed:
    """Accept exactly PDF, DOCX, XLSX, PNG, JPEG and plain text; raise ValidationFailed otherwise.

    The type comes from the content; `declared_filename` is only quoted in the message.
    """
    sniffed = sniff(path)
    if sniffed.kind == "text":
        sniffed = _verify_text(Path(path), sniffed)
    the_file = "The file"
    if declared_filename:
        the_file = f'The file "{_display_name(declared_filename)}"'
    if sniffed.kind == "empty":
        raise _failure(f"{the_file} is empty.")
    if sniffed.kind not in EVIDENCE_KINDS:
        raise _failure(
            f"{the_file} is {sniffed.description} (detected from its content), which is not "
            f"accepted as evidence. {_EVIDENCE_ACCEPTED}"
        )
    return sniffed


def check_tabular(path: str | os.PathLike[str]) -> str:
    """Return "csv" or "parquet" for a bias-check upload; raise ValidationFailed otherwise.

    CSV here means UTF-8 text (its structure is checked when it is read). A Parquet file's
    footer is read to refuse damaged files and declared sizes that look like a bomb.
    """
    path = Path(path)
    sniffed = sniff(path)
    kind = sniffed.kind
    if kind == "parquet":
        _check_parquet_footer(path)
        return "parquet"
    if kind == "text" and sniffed.media_type == _UTF16:
        raise _failure("The file is UTF-16 text; save it as UTF-8 CSV or Parquet.")
    if kind == "text":
        return "csv"
    if kind == "empty":
        raise _failure("The file is empty.")
    if kind in _EXCEL_KINDS:
        what = "an Excel workbook" if kind != "ole2" else "an Excel workbook or another Office file"
        raise _failure(
            f"The file is {what} (detected from its content), not CSV or Parquet: export the "
            "sheet as CSV (UTF-8) or Parquet and upload that."
        )
    if kind == "text_other_encoding":
        raise _failure(
            "The file is text in an encoding other than UTF-8 (for example Windows-1252): "
            "save it as CSV UTF-8 or Parquet."
        )
    if kind == "parquet_damaged":
        raise _failure("The file starts like a Parquet file but is truncated or damaged.")
    raise _failure(
        f"The file is {sniffed.description} (detected from its content), not CSV or Parquet: "
        "upload a UTF-8 CSV or Parquet file."
    )


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------


def _text_encoding(head: bytes) -> tuple[str, int] | None:
    """The codec and BOM length to decode with, or None for UTF-32 (not accepted)."""
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return None
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    return "utf-8", 0


def _mostly_printable(text: str, controls: int | None = None) -> bool:
    if controls is None:
        controls = len(_CONTROL.findall(text))
    return controls <= MAX_CONTROL_SHARE * max(len(text), 1)


def _classify_text(head: bytes, complete: bool) -> Sniffed | None:
    encoding = _text_encoding(head)
    if encoding is None:
        return None
    codec, bom = encoding
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    try:
        # A head cut mid-character is fine; the decoder keeps the partial sequence back.
        text = decoder.decode(head[bom:], final=complete)
    except UnicodeDecodeError:
        return None
    if "\x00" in text or not _mostly_printable(text):
        return None
    if complete and not text.strip():
        return _make("empty")
    markup = _classify_markup(text[:MARKUP_SCAN_CHARS])
    if markup is not None:
        return _make(markup)
    return _make("text", _UTF8 if codec == "utf-8" else _UTF16)


def _classify_markup(start: str) -> str | None:
    lowered = start.lower()
    lead = lowered.lstrip("\ufeff \t\r\n\f")
    if lead.startswith("#!"):
        return "script"
    if lead.startswith("<!--"):
        return "html"
    for tag in _HTML_TAGS:
        if lead.startswith(tag) and (len(lead) == len(tag) or lead[len(tag)] in _TAG_END):
            return "html"
    if lead.startswith("<"):
        # An XML prolog, doctype or comment can come before the root element.
        if "<svg" in lowered:
            return "svg"
        if "<html" in lowered or "http://www.w3.org/1999/xhtml" in lowered:
            return "html"
    if "<script" in lowered:
        return "script_markup"
    return None


def _verify_text(path: Path, sniffed: Sniffed) -> Sniffed:
    """Check that the whole file, not just its head, is text in the sniffed encoding."""
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
        if len(head) < HEAD_BYTES:
            return sniffed
        codec, bom = _text_encoding(head) or ("utf-8", 0)
        decoder = codecs.getincrementaldecoder(codec)(errors="strict")
        chars = controls = 0
        chunk = head[bom:]
        try:
            while True:
                text = decoder.decode(chunk, final=not chunk)
                if "\x00" in text:
                    return _make("binary")
                chars += len(text)
                controls += len(_CONTROL.findall(text))
                if not chunk:
                    break
                chunk = fh.read(1 << 20)
        except UnicodeDecodeError:
            return _make("binary")
    if controls > MAX_CONTROL_SHARE * max(chars, 1):
        return _make("binary")
    return sniffed


def _looks_like_legacy_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    return _mostly_printable(head.decode("cp1252", errors="replace"))


# --------------------------------------------------------------------------------------------
# Binary formats
# --------------------------------------------------------------------------------------------


def _tail(fh: BinaryIO, size: int, n: int) -> bytes:
    fh.seek(max(size - n, 0))
    return fh.read(n)


def _is_executable_mz(fh: BinaryIO, head: bytes, size: int, complete: bool) -> bool:
    """Whether a file starting with "MZ" is an executable rather than text such as "MZ,1"."""
    if len(head) >= 64:
        (pe_offset,) = struct.unpack("<I", head[60:64])
        if pe_offset + 4 <= size:
            fh.seek(pe_offset)
            if fh.read(4) == b"PE\0\0":
                return True
    # A DOS executable without a PE header is still code; real text never has its header.
    return _classify_text(head, complete) is None and not _looks_like_legacy_text(head)


def _name_binary(head: bytes) -> Sniffed:
    """Unrecognised binary data, named after puremagic's best guess for a clearer message."""
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        matches = []
    for match in matches:
        # Short or offset signatures match random bytes too often to be quoted to a user.
        if match.offset == 0 and len(match.byte_match) >= 3 and match.extension:
            media = match.mime_type or "application/octet-stream"
            return Sniffed(media_type=media, kind="binary", extension=match.extension)
    return _make("binary")


def _zip_directory(fh: BinaryIO, size: int) -> tuple[int, int] | None:
    """(declared member count, central directory size) from the end records, or None."""
    tail_len = min(size, 22 + 0xFFFF)
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    # zipfile locates the end record the same way (the last signature), so both agree.
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or len(tail) - pos < 22:
        return None
    _, _, _, _, members, directory_size, directory_offset, _ = struct.unpack(
        "<4s4H2LH", tail[pos : pos + 22]
    )
    if members != 0xFFFF and directory_size != 0xFFFFFFFF and directory_offset != 0xFFFFFFFF:
        return members, directory_size
    end_pos = size - tail_len + pos
    if end_pos < 20:
        return None
    fh.seek(end_pos - 20)
    locator = fh.read(20)
    if locator[:4] != b"PK\x06\x07":
        return None
    (_, _, record_offset, _) = struct.unpack("<4sLQL", locator)
    if record_offset + 56 > size:
        return None
    fh.seek(record_offset)
    record = fh.read(56)
    if record[:4] != b"PK\x06\x06":
        return None
    _, _, _, _, _, _, _, members, directory_size, _ = struct.unpack("<4sQ2H2L4Q", record)
    return members, directory_size


def _sniff_zip(fh: BinaryIO, size: int) -> str:
    """Classify a ZIP from its central directory alone; nothing is decompressed."""
    directory = _zip_directory(fh, size)
    if directory is None:
        return "zip_damaged"
    members, directory_size = directory
    if members > MAX_ZIP_MEMBERS or directory_size > MAX_ZIP_DIRECTORY_BYTES:
        return "zip_bomb"
    fh.seek(0)
    try:
        with zipfile.ZipFile(fh) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, struct.error):
        return "zip_damaged"
    if len(infos) > MAX_ZIP_MEMBERS:
        return "zip_bomb"
    if sum(info.file_size for info in infos) > MAX_ZIP_UNCOMPRESSED:
        return "zip_bomb"
    # Office part names are case-insensitive; some tools write backslashes.
    names = {info.filename.replace("\\", "/").lower() for info in infos}
    macros = any(_is_macro_part(name) for name in names)
    if "word/document.xml" in names:
        return "docm" if macros else "docx"
    if "xl/workbook.xml" in names:
        return "xlsm" if macros else "xlsx"
    if "xl/workbook.bin" in names:
        return "xlsb"
    if "ppt/presentation.xml" in names:
        return "office_macro" if macros else "pptx"
    if "androidmanifest.xml" in names and "classes.dex" in names:
        return "apk"
    if "meta-inf/manifest.mf" in names or any(name.endswith(".class") for name in names):
        return "jar"
    if "mimetype" in names and "content.xml" in names:
        return "odf"
    return "zip"


def _is_macro_part(name: str) -> bool:
    # VBA projects, Excel 4.0 macro sheets and ActiveX controls all run code when opened.
    path = "/" + name
    return path.endswith("/vbaproject.bin") or "/macrosheets/" in path or "/activex/" in path


def _check_parquet_footer(path: Path) -> None:
    file_size = path.stat().st_size
    try:
        # An open handle, not a path string, so pyarrow never interprets it as a URI.
        with path.open("rb") as fh, pq.ParquetFile(fh) as parquet:
            metadata = parquet.metadata
            rows = metadata.num_rows
            groups = [metadata.row_group(i) for i in range(metadata.num_row_groups)]
            declared = sum(group.total_byte_size for group in groups)
            # Column-chunk sizes can lie independently of the row-group totals; summing them
            # is skipped only when there are so many that the footer check itself gets slow.
            if metadata.num_row_groups * metadata.num_columns <= 200_000:
                columns = sum(
                    group.column(c).total_uncompressed_size
                    for group in groups
                    for c in range(group.num_columns)
                )
                declared = max(declared, columns)
    except Exception as exc:
        # pyarrow raises a variety of types for a bad footer (ArrowInvalid, OSError, ...).
        raise _failure(
            "The Parquet file is truncated or damaged; its footer cannot be read."
        ) from exc
    if rows < 0 or declared < 0:
        raise _failure("The Parquet file is damaged: its footer declares negative sizes.")
    if rows > MAX_PARQUET_ROWS:
        raise _failure(
            f"The Parquet file declares {rows:,} rows, more than the {MAX_PARQUET_ROWS:,} "
            "that can be assessed."
        )
    if declared > PARQUET_MAX_RATIO * file_size + PARQUET_SLACK_BYTES:
        raise _failure(
            "The Parquet file declares an uncompressed size out of all proportion to its size "
            "(a possible decompression bomb); it was not read."
        )


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def _failure(message: str) -> ValidationFailed:
    return ValidationFailed(message, errors={"file": [message]})


def _display_name(name: str) -> str:
    # Browsers send "C:\\dir\\file.pdf" or plain names; only the last part means anything.
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(ch for ch in base if ch.isprintable())
    return base if len(base) <= 80 else base[:77] + "..."
