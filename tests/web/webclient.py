"""A tiny HTTP client over real sockets (stdlib http.client), with multipart upload and MJPEG part reading."""

from __future__ import annotations

import http.client
import json
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

TIMEOUT_S = 60


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        assert self.headers.get_content_type() == "application/json", self.headers.get("Content-Type")
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def connect(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT_S)


def request(url: str, path: str, method: str = "GET", body: bytes | None = None,
            headers: dict[str, str] | None = None) -> Reply:
    conn = connect(url)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


def multipart(field: str, filename: str, data: bytes,
              content_type: str = "application/octet-stream") -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def upload(url: str, data: bytes, filename: str = "photo.jpg", field: str = "photo",
           headers: dict[str, str] | None = None) -> Reply:
    body, content_type = multipart(field, filename, data)
    return request(url, "/api/photo", "POST", body, {"Content-Type": content_type, **(headers or {})})


def read_mjpeg(url: str, count: int, path: str = "/stream.mjpg", headers: dict[str, str] | None = None) -> list[bytes]:
    """The first `count` JPEG parts of a multipart/x-mixed-replace stream (then the connection is closed)."""
    conn = connect(url)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        assert response.status == 200, (response.status, response.read()[:200])
        content_type = response.headers["Content-Type"]
        assert content_type.startswith("multipart/x-mixed-replace"), content_type
        boundary = content_type.split("boundary=")[1].encode()
        frames = []
        while len(frames) < count:
            line = response.readline()
            if not line.strip():
                continue
            assert line.strip() == b"--" + boundary, line
            part_headers = {}
            while (line := response.readline().strip()):
                name, _, value = line.decode().partition(":")
                part_headers[name.strip().lower()] = value.strip()
            assert part_headers["content-type"] == "image/jpeg"
            frames.append(response.read(int(part_headers["content-length"])))
        return frames
    finally:
        conn.close()
