"""Fixtures for the hardening tests: Redis when it answers, and a small seeded registry."""

from __future__ import annotations


def multipart(fields: dict[str, str], filename: str, content: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body with one file, and its content type.

    Encoded here because werkzeug's test client spools bodies over 500 KiB to a temporary file
    that it never closes (a ResourceWarning, which this suite's warning filter makes an error).
    """
    boundary = "----hardening-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    head = "".join(parts) + (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    body = head.encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"
