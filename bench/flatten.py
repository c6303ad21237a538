"""How long a flattened copy of a PDF takes (``documents/flatten.py``), per page, in this
process: a generated document of text pages with a photo on each, rendered by PDFium and
rebuilt as a PDF of images. ``--profile`` prints where the time goes.

    .venv/bin/python bench/flatten.py [--pages 10] [--repeat 3] [--greyscale] [--profile]

The results table is in docs/performance.md ("Flattened copies")."""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import resource
import statistics
import time

import pikepdf
from PIL import Image, ImageDraw

from mailslot.documents.flatten import flatten_pdf

LINE = "The committee met on the fourth of the month and agreed to defer the decision. " * 2


def _photo() -> bytes:
    image = Image.new("RGB", (600, 400), (120, 160, 200))
    draw = ImageDraw.Draw(image)
    for x in range(0, 600, 40):
        draw.ellipse((x, x // 3, x + 80, x // 3 + 60), fill=(x % 255, 90, 40))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def document(pages: int) -> bytes:
    """An A4 document: 45 lines of Helvetica and a 600x400 JPEG photo on every page."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    photo = pikepdf.Stream(pdf, _photo())
    photo.Type, photo.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    photo.Width, photo.Height, photo.BitsPerComponent = 600, 400, 8
    photo.ColorSpace, photo.Filter = pikepdf.Name.DeviceRGB, pikepdf.Name.DCTDecode
    for number in range(pages):
        lines = [f"BT /F1 9 Tf 50 {800 - 12 * i} Td ({LINE[: 90 + i]}) Tj ET" for i in range(45)]
        lines.append("q 300 0 0 200 150 60 cm /Im1 Do Q")
        lines.append(f"BT /F1 12 Tf 280 30 Td (Page {number + 1}) Tj ET")
        page = pdf.add_blank_page(page_size=(595, 842))
        page.Resources = pikepdf.Dictionary(
            Font=pikepdf.Dictionary(F1=font), XObject=pikepdf.Dictionary(Im1=photo)
        )
        page.Contents = pdf.make_stream("\n".join(lines).encode())
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--greyscale", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    data = document(args.pages)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(flatten_pdf, data, greyscale=args.greyscale)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        return
    seconds, sizes = [], []
    for _ in range(args.repeat):
        before = cpu()
        copy = flatten_pdf(data, greyscale=args.greyscale)
        seconds.append(cpu() - before)
        sizes.append(len(copy))
    per_page = statistics.median(seconds) / args.pages
    print(
        f"pages={args.pages} greyscale={args.greyscale} input={len(data) // 1024} KiB "
        f"copy={statistics.median(sizes) // 1024} KiB cpu/page={per_page:.3f} s "
        f"(median of {args.repeat}, {time.strftime('%Y-%m-%d')})"
    )


if __name__ == "__main__":
    main()
