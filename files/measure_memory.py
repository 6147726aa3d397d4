"""Peak memory of checking and storing one upload (docs/files.md, "Memory").

    DJANGO_SETTINGS_MODULE=project.settings python -m files.measure_memory

Each case runs in a fresh process; the figure is the growth of its peak resident
set (getrusage's ru_maxrss) over the process just before the upload, since
Pillow's pixel buffers are allocated in C, out of tracemalloc's sight. The
input is made by the parent process and read from disk by the child, which hands
it on as Django hands an upload to the view: a temporary file.
"""

import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

CASES = ("jpeg_10mib", "jpeg_16mp", "png_bomb_4096", "download_10mib")


def _make(case: str) -> tuple[str, bytes]:
    from PIL import Image

    out = io.BytesIO()
    if case == "jpeg_10mib":
        # Colour noise compresses worst: 10 MiB of JPEG at 3,000×2,200 pixels.
        noise = Image.frombytes("RGB", (3000, 2200), os.urandom(3000 * 2200 * 3))
        noise.save(out, "JPEG", quality=98)
    elif case == "jpeg_16mp":
        # The largest image allowed (CHAT_UPLOAD_MAX_PIXELS): 4,000×4,000 pixels.
        base = Image.radial_gradient("L").resize((4000, 4000)).convert("RGB")
        base.save(out, "JPEG", quality=90)
    elif case == "png_bomb_4096":
        Image.new("RGB", (4096, 4096)).save(out, "PNG")  # 48 KB
    else:
        return "blob.bin", bytes(range(256)) * (10 * 1024 * 1024 // 256)
    return f"{case}.{'png' if 'png' in case else 'jpg'}", out.getvalue()


def _peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_case(case: str, path: str) -> dict:
    import django

    django.setup()
    from django.core.files import File
    from django.core.files.storage import FileSystemStorage
    from django.core.files.uploadedfile import TemporaryUploadedFile

    from files import images
    from project.errors import ClientError

    name = os.path.basename(path)
    size = os.path.getsize(path)
    uploaded = TemporaryUploadedFile(name, "application/octet-stream", size, None)
    with open(path, "rb") as source:
        while chunk := source.read(64 * 1024):
            uploaded.write(chunk)
    uploaded.seek(0)
    storage = FileSystemStorage(location=tempfile.mkdtemp(prefix="files-measure-"))
    before = _peak_kib()
    started = time.perf_counter()
    outcome = "stored"
    try:
        checked = images.check_image(uploaded)
        if checked is None:
            uploaded.seek(0)
            storage.save(name, File(uploaded))
        else:
            storage.save(name, File(checked.data))
            storage.save(f"thumb-{name}", File(checked.thumbnail))
            outcome = f"stored as {checked.width}×{checked.height} {checked.content_type}"
    except ClientError as error:
        outcome = f"refused: {error.detail}"
    elapsed = time.perf_counter() - started
    return {
        "case": case,
        "bytes": size,
        "outcome": outcome,
        "peak_growth_mib": round((_peak_kib() - before) / 1024, 1),
        "seconds": round(elapsed, 2),
    }


def main() -> None:
    if len(sys.argv) > 2:
        print(json.dumps(run_case(sys.argv[1], sys.argv[2]), ensure_ascii=False))
        return
    directory = tempfile.mkdtemp(prefix="files-measure-input-")
    for case in CASES:
        name, data = _make(case)
        path = os.path.join(directory, name)
        with open(path, "wb") as out:
            out.write(data)
        del data
        result = subprocess.run(
            [sys.executable, "-m", "files.measure_memory", case, path],
            capture_output=True,
            text=True,
            check=True,
        )
        print(result.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
