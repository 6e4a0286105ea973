"""Reading request bodies within a size limit, and multipart forms from bytes already read."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from signalement.web.errors import ApiError

FORM_OVERHEAD = 256 * 1024  # room for the multipart boundaries and the small fields


def too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", f"the body is over the limit of {limit} bytes", limit=limit)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def parse_multipart(request: Request, body: bytes, *, max_files: int = 1) -> FormData:
    async def stream() -> AsyncGenerator[bytes, None]:
        yield body

    # The body is already read within the route's limit: a field may be as large as that (Signal Spam sends the
    # base64 of the whole message as a plain field).
    parser = MultiPartParser(
        request.headers, stream(), max_files=max_files, max_fields=20, max_part_size=max(len(body), 1)
    )
    try:
        return await parser.parse()
    except MultiPartException as exc:
        raise ApiError(400, "malformed_form", f"malformed multipart form: {exc.message}") from None


async def form_bytes(value: str | UploadFile | None) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    return await value.read()


def form_text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) and value != "" else None


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
