"""Tests for content-based file type detection and the evidence and bias-check upload checks."""

from __future__ import annotations

import io
import random
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assessments import sniffing
from assessments.sniffing import Sniffed, check_evidence, check_tabular, sniff
from registry.errors import ValidationFailed

ACCEPTED = "Accepted: PDF, DOCX, XLSX, PNG, JPEG, plain text."


# --------------------------------------------------------------------------------------------
# Building files
# --------------------------------------------------------------------------------------------


def minimal_pdf() -> bytes:
    """A one-page PDF written by hand, with a correct cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def minimal_png() -> bytes:
    """A valid 1x1 greyscale PNG, built from its chunks."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x80"))
        + chunk(b"IEND", b"")
    )


def jpeg_bytes() -> bytes:
    image_module = pytest.importorskip("PIL.Image")
    buffer = io.BytesIO()
    image_module.new("RGB", (4, 4), (200, 30, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


CONTENT_TYPES = b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'


def docx_bytes(**extra: bytes) -> bytes:
    return zip_bytes(
        {
            "[Content_Types].xml": CONTENT_TYPES,
            "_rels/.rels": b"<Relationships/>",
            "word/document.xml": b"<w:document><w:body><w:p/></w:body></w:document>",
            **extra,
        }
    )


def xlsx_bytes(**extra: bytes) -> bytes:
    return zip_bytes(
        {
            "[Content_Types].xml": CONTENT_TYPES,
            "_rels/.rels": b"<Relationships/>",
            "xl/workbook.xml": b"<workbook><sheets><sheet name='Sheet1'/></sheets></workbook>",
            "xl/worksheets/sheet1.xml": b"<worksheet><sheetData/></worksheet>",
            **extra,
        }
    )


def windows_exe() -> bytes:
    dos_header = bytearray(b"MZ" + b"\x90\x00" * 29 + b"\x00" * 4)
    dos_header[60:64] = struct.pack("<I", 0x80)
    return bytes(dos_header.ljust(0x80, b"\x00")) + b"PE\x00\x00" + b"\x4c\x01" + b"\x00" * 200


def parquet_bytes(rows: int = 100) -> bytes:
    table = pa.table({"group": ["a", "b"] * (rows // 2), "label": [0, 1] * (rows // 2)})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


@pytest.fixture
def write(tmp_path):
    def write(name: str, data: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write


# --------------------------------------------------------------------------------------------
# Accepted evidence
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, build, kind, media_type, extension",
    [
        ("report.pdf", minimal_pdf, "pdf", "application/pdf", ".pdf"),
        ("chart.png", minimal_png, "png", "image/png", ".png"),
        ("photo.jpg", jpeg_bytes, "jpeg", "image/jpeg", ".jpg"),
        (
            "memo.docx",
            docx_bytes,
            "docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ".docx",
        ),
        (
            "data.xlsx",
            xlsx_bytes,
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ".xlsx",
        ),
        (
            "notes.txt",
            lambda: "Résumé — notes\nline 2\n".encode(),
            "text",
            "text/plain; charset=utf-8",
            ".txt",
        ),
        (
            "bom.txt",
            lambda: "\ufeffwith BOM\n".encode(),
            "text",
            "text/plain; charset=utf-8",
            ".txt",
        ),
        (
            "u16.txt",
            lambda: "\ufeffUTF-16 text\n".encode("utf-16-le"),
            "text",
            "text/plain; charset=utf-16",
            ".txt",
        ),
        (
            "u16be.txt",
            lambda: "\ufeffbig endian\n".encode("utf-16-be"),
            "text",
            "text/plain; charset=utf-16",
            ".txt",
        ),
        (
            "data.csv",
            lambda: b"group,label\na,1\nb,0\n",
            "text",
            "text/plain; charset=utf-8",
            ".txt",
        ),
    ],
)
def test_accepted_evidence(write, name, build, kind, media_type, extension):
    path = write(name, build())
    expected = Sniffed(media_type=media_type, kind=kind, extension=extension)
    assert sniff(path) == expected
    assert check_evidence(path, declared_filename=name) == expected


def test_hand_made_pdf_and_png_are_really_valid(write):
    """The fixtures are real files, so the sniffer is tested against what readers accept."""
    pypdf = pytest.importorskip("pypdf")
    assert len(pypdf.PdfReader(io.BytesIO(minimal_pdf())).pages) == 1
    image_module = pytest.importorskip("PIL.Image")
    with image_module.open(io.BytesIO(minimal_png())) as image:
        image.load()
        assert image.size == (1, 1)


def test_type_comes_from_content_not_name(write):
    assert sniff(write("scan.txt", minimal_pdf())).kind == "pdf"
    assert (
        check_evidence(write("image.pdf", minimal_png()), declared_filename="image.pdf").kind
        == "png"
    )


def test_long_text_is_checked_beyond_the_head(write):
    text = ("plain line of text\n" * 10_000).encode()
    assert check_evidence(write("long.txt", text)).kind == "text"
    hidden = text + b"\x00\x01\x02binary tail" * 10
    assert sniff(write("hidden.txt", hidden)).kind == "text"
    with pytest.raises(ValidationFailed, match="unrecognised binary data"):
        check_evidence(write("hidden2.txt", hidden))


def test_multibyte_character_cut_at_the_head_boundary(write):
    body = b"a" * (sniffing.HEAD_BYTES - 1) + "é and more\n".encode()
    assert sniff(write("edge.txt", body)).kind == "text"
    assert check_evidence(write("edge2.txt", body)).kind == "text"


# --------------------------------------------------------------------------------------------
# Rejected evidence
# --------------------------------------------------------------------------------------------


def test_disguised_windows_executable(write):
    path = write("report.pdf", windows_exe())
    assert sniff(path).kind == "pe"
    with pytest.raises(ValidationFailed) as caught:
        check_evidence(path)
    message = (
        "The file is a Windows executable (detected from its content), which is not accepted "
        f"as evidence. {ACCEPTED}"
    )
    assert caught.value.code == 422
    assert caught.value.message == message
    assert caught.value.errors == {"file": [message]}


def test_message_quotes_only_the_base_of_the_declared_name(write):
    path = write("x", windows_exe())
    with pytest.raises(ValidationFailed) as caught:
        check_evidence(path, declared_filename="C:\\Users\\me\\report.pdf")
    assert caught.value.message.startswith('The file "report.pdf" is a Windows executable')


def test_dos_executable_without_pe_header(write):
    assert sniff(write("old.com", b"MZ\x00\x01\x02\x03" + bytes(range(256)))).kind == "pe"


def test_text_that_merely_starts_with_mz_is_text(write):
    path = write("mz.csv", b"MZ_code,count\nA1,2\n")
    assert sniff(path).kind == "text"
    assert check_tabular(path) == "csv"


@pytest.mark.parametrize(
    "data, kind, words",
    [
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 100, "elf", "Linux executable"),
        (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + b"\x00" * 100, "macho", "macOS executable"),
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x02" + b"\x00" * 100, "macho", "macOS executable"),
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + b"\x00" * 100, "java_class", "Java class"),
        (b"#!/bin/sh\nrm -rf /\n", "script", "script"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504, "ole2", "legacy Microsoft Office"),
        (b"{\\rtf1\\ansi hello}", "rtf", "RTF document"),
    ],
)
def test_dangerous_binaries_are_rejected(write, data, kind, words):
    path = write("innocent.pdf", data)
    assert sniff(path).kind == kind
    with pytest.raises(ValidationFailed, match=words):
        check_evidence(path)


@pytest.mark.parametrize(
    "text, kind",
    [
        ("<!DOCTYPE html><html><body>hi</body></html>", "html"),
        ("<html><script>alert(1)</script></html>", "html"),
        ("\ufeff  \n\t<HTML>\n<body>x</body>", "html"),
        ("<SCRIPT>alert(1)</SCRIPT>", "html"),
        ("<body onload=alert(1)>", "html"),
        ("<!-- comment --><p>x</p>", "html"),
        ("<p>paragraph</p>", "html"),
        ('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "svg"),
        ('<?xml version="1.0"?>\n<!DOCTYPE svg>\n<svg onload="alert(1)"/>', "svg"),
        ('<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"/>', "html"),
        (
            "Meeting notes\nsee attachment <ScRiPt src=//evil.example/x.js></script>\n",
            "script_markup",
        ),
    ],
)
def test_html_svg_and_scripts_named_txt_are_rejected(write, text, kind):
    path = write("notes.txt", text.encode())
    assert sniff(path).kind == kind
    with pytest.raises(ValidationFailed, match="detected from its content"):
        check_evidence(path, declared_filename="notes.txt")
    with pytest.raises(ValidationFailed):
        check_tabular(path)


def test_utf16_html_is_still_html(write):
    path = write("page.txt", "\ufeff<html><script>x</script></html>".encode("utf-16-le"))
    assert sniff(path).kind == "html"


@pytest.mark.parametrize(
    "text",
    [
        "a < b and <bold> claims\n",
        "x <abbr> y\n",
        '<?xml version="1.0"?><records><record id="1"/></records>',
        "script tags are written like <scr ipt>\n",
    ],
)
def test_harmless_angle_brackets_are_text(write, text):
    assert check_evidence(write("t.txt", text.encode())).kind == "text"


@pytest.mark.parametrize(
    "members, kind, words",
    [
        ({"readme.txt": b"hi", "data.bin": b"\x00"}, "zip", "ZIP archive"),
        (
            {"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n", "a/B.class": b"\xca\xfe"},
            "jar",
            "JAR",
        ),
        (
            {"AndroidManifest.xml": b"x", "classes.dex": b"dex", "META-INF/MANIFEST.MF": b""},
            "apk",
            "APK",
        ),
        (
            {"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"x"},
            "odf",
            "OpenDocument",
        ),
        ({"[Content_Types].xml": b"x", "ppt/presentation.xml": b"x"}, "pptx", "PowerPoint"),
        ({"[Content_Types].xml": b"x", "xl/workbook.bin": b"x"}, "xlsb", "binary Excel"),
    ],
)
def test_other_zips_are_rejected(write, members, kind, words):
    path = write("memo.docx", zip_bytes(members))
    assert sniff(path).kind == kind
    with pytest.raises(ValidationFailed, match=words):
        check_evidence(path)


@pytest.mark.parametrize(
    "data, kind",
    [
        (docx_bytes(**{"word/vbaProject.bin": b"\xd0\xcf\x11\xe0"}), "docm"),
        (xlsx_bytes(**{"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0"}), "xlsm"),
        (xlsx_bytes(**{"xl/macrosheets/sheet1.xml": b"<xm:macrosheet/>"}), "xlsm"),
        (docx_bytes(**{"word/activeX/activeX1.bin": b"\x00"}), "docm"),
        (docx_bytes(**{"WORD/VBAPROJECT.BIN": b"\x00"}), "docm"),
    ],
)
def test_macro_enabled_office_files_are_rejected(write, data, kind):
    path = write("clean.docx", data)
    assert sniff(path).kind == kind
    with pytest.raises(ValidationFailed, match="macro-enabled"):
        check_evidence(path)


def test_zip_with_too_many_members(write):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("word/document.xml", b"<w:document/>")
        for i in range(sniffing.MAX_ZIP_MEMBERS):
            archive.writestr(f"f{i}", b"")
    path = write("many.docx", buffer.getvalue())
    assert sniff(path).kind == "zip_bomb"
    with pytest.raises(ValidationFailed, match="zip bomb"):
        check_evidence(path)
    with pytest.raises(ValidationFailed, match="zip bomb"):
        check_tabular(path)


def patch_central_directory(data: bytes, *, uncompressed: int) -> bytes:
    """Make every central-directory entry declare `uncompressed` bytes of content."""
    out = bytearray(data)
    pos = out.find(b"PK\x01\x02")
    while pos >= 0:
        out[pos + 24 : pos + 28] = struct.pack("<I", uncompressed)
        pos = out.find(b"PK\x01\x02", pos + 4)
    return bytes(out)


def test_zip_declaring_a_huge_uncompressed_size(write):
    data = patch_central_directory(docx_bytes(), uncompressed=0xFFFF_FFF0)
    path = write("bomb.docx", data)
    assert sniff(path).kind == "zip_bomb"
    with pytest.raises(ValidationFailed, match="zip bomb"):
        check_evidence(path)


def patch_end_record(
    data: bytes, *, members: int | None = None, directory_size: int | None = None
) -> bytes:
    out = bytearray(data)
    pos = out.rfind(b"PK\x05\x06")
    if members is not None:
        out[pos + 8 : pos + 12] = struct.pack("<HH", members, members)
    if directory_size is not None:
        out[pos + 12 : pos + 16] = struct.pack("<I", directory_size)
    return bytes(out)


def test_end_record_declaring_too_many_members_is_refused_before_parsing(write, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the central directory must not be parsed")

    many = write("a.docx", patch_end_record(docx_bytes(), members=60_000))
    huge_directory = write("b.docx", patch_end_record(docx_bytes(), directory_size=100 << 20))
    monkeypatch.setattr(sniffing.zipfile, "ZipFile", fail)
    assert sniff(many).kind == "zip_bomb"
    assert sniff(huge_directory).kind == "zip_bomb"


def zip64_variant(data: bytes, declared_members: int) -> bytes:
    """Rewrite a zip's end record by hand as zip64: a zip64 record and locator before it."""
    pos = data.rfind(b"PK\x05\x06")
    _, _, _, _, _, size, offset, _ = struct.unpack("<4s4H2LH", data[pos : pos + 22])
    record = struct.pack(
        "<4sQ2H2L4Q",
        b"PK\x06\x06",
        44,
        45,
        45,
        0,
        0,
        declared_members,
        declared_members,
        size,
        offset,
    )
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, pos, 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return data[:pos] + record + locator + end


def test_zip64_end_record_is_read(write):
    data = docx_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = len(archive.infolist())
    assert sniff(write("z64.docx", zip64_variant(data, members))).kind == "docx"
    assert sniff(write("z64-bomb.docx", zip64_variant(data, 20_000))).kind == "zip_bomb"


def test_damaged_zip(write):
    path = write("broken.docx", b"PK\x03\x04" + random.Random(3).randbytes(2000))
    assert sniff(path).kind == "zip_damaged"
    with pytest.raises(ValidationFailed, match="damaged ZIP"):
        check_evidence(path)


@pytest.mark.parametrize("data", [b"", b"  \n\t\r\n", b"\xef\xbb\xbf\n"])
def test_empty_files(write, data):
    path = write("empty.pdf", data)
    assert sniff(path).kind == "empty"
    with pytest.raises(ValidationFailed) as caught:
        check_evidence(path, declared_filename="empty.pdf")
    assert caught.value.errors == {"file": ['The file "empty.pdf" is empty.']}
    with pytest.raises(ValidationFailed, match="The file is empty."):
        check_tabular(path)


def test_garbage_bytes(write):
    path = write("data.csv", random.Random(7).randbytes(10_000))
    assert sniff(path).kind == "binary"
    with pytest.raises(ValidationFailed, match="not CSV or Parquet"):
        check_tabular(path)
    with pytest.raises(ValidationFailed, match="not accepted as evidence"):
        check_evidence(path)


def test_known_binary_formats_are_named(write):
    path = write("x.pdf", b"SQLite format 3\x00" + bytes(200))
    sniffed = sniff(path)
    assert sniffed.kind == "binary"
    assert sniffed.extension
    with pytest.raises(ValidationFailed, match="it looks like a"):
        check_evidence(path)


def test_utf32_is_not_text(write):
    assert sniff(write("u32.txt", "\ufeffhello".encode("utf-32"))).kind != "text"


# --------------------------------------------------------------------------------------------
# Bias-check uploads
# --------------------------------------------------------------------------------------------


def test_csv_is_accepted(write):
    assert check_tabular(write("data.csv", b"group,label\na,1\nb,0\n")) == "csv"
    assert check_tabular(write("bom.csv", b"\xef\xbb\xbfgroup;label\na;1\n")) == "csv"


def test_parquet_is_accepted(write):
    path = write("data.csv", parquet_bytes())
    assert sniff(path).kind == "parquet"
    assert check_tabular(path) == "parquet"


@pytest.mark.parametrize(
    "data",
    [
        xlsx_bytes(),
        xlsx_bytes(**{"xl/vbaProject.bin": b"x"}),
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504),
    ],
    ids=["xlsx", "xlsm", "xls"],
)
def test_excel_renamed_csv(write, data):
    with pytest.raises(ValidationFailed) as caught:
        check_tabular(write("data.csv", data))
    assert "Excel workbook" in caught.value.message
    assert "export the sheet as CSV" in caught.value.message
    assert caught.value.errors == {"file": [caught.value.message]}


def test_executable_and_html_are_not_tabular(write):
    with pytest.raises(ValidationFailed, match="Windows executable"):
        check_tabular(write("data.csv", windows_exe()))
    with pytest.raises(ValidationFailed, match="HTML document"):
        check_tabular(write("data.csv", b"<!doctype html><table><tr><td>1</td></tr></table>"))


def test_other_encodings_are_not_tabular(write):
    with pytest.raises(ValidationFailed, match="UTF-16"):
        check_tabular(write("u16.csv", "\ufeffa,b\n1,2\n".encode("utf-16-le")))
    latin1 = write("latin1.csv", "ville,note\nMontréal,1\nQuébec,0\n".encode("cp1252"))
    assert sniff(latin1).kind == "text_other_encoding"
    with pytest.raises(ValidationFailed, match="other than UTF-8"):
        check_tabular(latin1)


def test_truncated_parquet(write):
    data = parquet_bytes()
    path = write("cut.parquet", data[: len(data) // 2])
    assert sniff(path).kind == "parquet_damaged"
    with pytest.raises(ValidationFailed, match="truncated or damaged"):
        check_tabular(path)


def test_parquet_with_corrupt_footer(write):
    data = bytearray(parquet_bytes())
    footer_length = struct.unpack("<I", data[-8:-4])[0]
    start = len(data) - 8 - footer_length
    data[start : len(data) - 8] = random.Random(5).randbytes(footer_length)
    path = write("bad.parquet", bytes(data))
    assert sniff(path).kind == "parquet"
    with pytest.raises(ValidationFailed, match="footer cannot be read"):
        check_tabular(path)


class FakeRowGroup:
    def __init__(self, total_byte_size, column_size=0):
        self.total_byte_size = total_byte_size
        self.num_columns = 1
        self._column_size = column_size

    def column(self, i):
        return type("Column", (), {"total_uncompressed_size": self._column_size})()


class FakeParquetFile:
    rows = 10
    groups: list[FakeRowGroup] = []

    def __init__(self, source):
        self.metadata = self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    @property
    def num_rows(self):
        return self.rows

    @property
    def num_row_groups(self):
        return len(self.groups)

    num_columns = 1

    def row_group(self, i):
        return self.groups[i]


@pytest.mark.parametrize(
    "rows, groups, words",
    [
        (3_000_000_000, [FakeRowGroup(10)], "rows"),
        (10, [FakeRowGroup(5 << 30)], "decompression bomb"),
        (10, [FakeRowGroup(10, column_size=5 << 30)], "decompression bomb"),
        (10, [FakeRowGroup(1 << 29)] * 4, "decompression bomb"),
        (-1, [FakeRowGroup(10)], "negative"),
    ],
)
def test_parquet_footer_declaring_absurd_sizes(write, monkeypatch, rows, groups, words):
    """Crafting such a footer is impractical, so pyarrow's metadata is replaced."""
    path = write("bomb.parquet", parquet_bytes())
    monkeypatch.setattr(FakeParquetFile, "rows", rows)
    monkeypatch.setattr(FakeParquetFile, "groups", groups)
    monkeypatch.setattr(sniffing.pq, "ParquetFile", FakeParquetFile)
    with pytest.raises(ValidationFailed, match=words):
        check_tabular(path)


def test_parquet_footer_within_limits_passes_with_fake_metadata(write, monkeypatch):
    path = write("ok.parquet", parquet_bytes())
    monkeypatch.setattr(FakeParquetFile, "groups", [FakeRowGroup(1 << 29, column_size=1 << 29)])
    monkeypatch.setattr(sniffing.pq, "ParquetFile", FakeParquetFile)
    assert check_tabular(path) == "parquet"


# --------------------------------------------------------------------------------------------
# Robustness
# --------------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=2000),
        st.text(max_size=500).map(str.encode),
        st.sampled_from(
            [b"PK\x03\x04", b"PAR1", b"MZ", b"%PDF-", b"\xca\xfe\xba\xbe", b"<"]
        ).flatmap(lambda magic: st.binary(max_size=500).map(lambda rest: magic + rest)),
    )
)
def test_arbitrary_bytes_never_crash(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload"
        path.write_bytes(data)
        sniffed = sniff(path)
        assert sniffed.description
        for check in (check_evidence, check_tabular):
            try:
                check(path)
            except ValidationFailed as error:
                assert error.errors == {"file": [error.message]}
