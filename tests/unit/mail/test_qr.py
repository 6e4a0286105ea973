"""qr_texts(): QR codes drawn here with zxing-cpp's writer, in the formats and shapes mail carries them."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

import numpy as np
import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from signalement.mail.qr import qr_scan, qr_texts

URL = "https://quish.example/login?id=42"


def code(text: str, side: int) -> Image.Image:
    barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode)
    return Image.fromarray(np.asarray(zxingcpp.write_barcode_to_image(barcode, scale=1))).resize(
        (side, side), Image.Resampling.NEAREST
    )


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def on_canvas(text: str, size: tuple[int, int] = (600, 600), side: int = 300, mode: str = "RGB") -> Image.Image:
    canvas = Image.new(mode, size, "white")
    canvas.paste(code(text, side).convert(mode), ((size[0] - side) // 2, (size[1] - side) // 2))
    return canvas


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "WEBP"])
def test_formats(fmt: str) -> None:
    assert qr_texts(encoded(on_canvas(URL), fmt)) == [URL]


def test_black_code_on_a_transparent_background() -> None:
    black = code(URL, 300)
    rgba = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    mask = Image.eval(black, lambda v: 255 - v)  # opaque where the modules are dark
    rgba.paste(Image.new("RGBA", black.size, (0, 0, 0, 255)), (50, 50), mask)
    assert qr_texts(encoded(rgba, "PNG")) == [URL]


def test_two_codes_and_a_non_url() -> None:
    canvas = Image.new("L", (900, 450), 255)
    canvas.paste(code(URL, 300), (50, 75))
    canvas.paste(code("SMSTO:38123:STOP", 300), (500, 75))
    assert sorted(qr_texts(encoded(canvas, "PNG"))) == sorted([URL, "SMSTO:38123:STOP"])


def test_a_large_photo_is_downscaled_and_still_read() -> None:
    data = encoded(on_canvas(URL, size=(3000, 2400), side=1200), "JPEG", quality=90)
    assert qr_texts(data) == [URL]


def test_no_code_and_tiny_images() -> None:
    assert qr_texts(encoded(Image.new("RGB", (500, 300), "gray"), "JPEG")) == []
    assert qr_scan(encoded(Image.new("RGB", (1, 1), "white"), "GIF")).defects == []  # a tracking pixel
    assert qr_texts(encoded(on_canvas(URL, size=(39, 39), side=35), "PNG")) == []


def png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))


@pytest.mark.parametrize(("width", "height"), [(6000, 5000), (30000, 30000), (100000, 400)])
def test_declared_pixel_bombs_are_not_decoded(width: int, height: int) -> None:
    scan = qr_scan(png_header_only(width, height))
    assert scan.texts == []
    assert scan.defects and scan.defects[0] in ("image-too-many-pixels", "image-unreadable")


def test_oversized_files_are_skipped() -> None:
    assert qr_scan(b"\x89PNG" + b"\x00" * (9 * 1024 * 1024)).defects == ["image-too-large"]


def test_truncated_and_foreign_formats() -> None:
    data = encoded(on_canvas(URL), "PNG")
    assert qr_scan(data[: len(data) // 2]).defects == ["image-unreadable"]
    tiff = encoded(on_canvas(URL), "TIFF")
    assert qr_scan(tiff) == qr_scan(b"not an image")  # TIFF is not decoded: not a mail image format


MAGICS = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"BM", b"RIFF\x00\x00\x00\x00WEBP", b""]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(MAGICS), st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(magic: bytes, tail: bytes) -> None:
    assert isinstance(qr_texts(magic + tail), list)


def test_a_code_too_small_to_be_read_is_not_looked_for() -> None:
    assert qr_texts(encoded(on_canvas(URL, size=(300, 60), side=58), "PNG")) == []
    assert qr_texts(encoded(on_canvas(URL, size=(300, 100), side=90), "PNG")) == [URL]


def test_a_repeated_image_is_scanned_once_and_results_stay_private() -> None:
    data = encoded(on_canvas(URL), "PNG")
    first = qr_scan(data)
    first.texts.append("changed by the caller")
    assert qr_scan(data).texts == [URL]
    assert qr_scan(data, hashlib.sha256(data).digest()).texts == [URL]
