"""One page with the course's generative figures at full size: ``build/course/gallery.html``.

A notebook puts a figure in the gallery by giving its code cell the metadata ``"gallery": "<one line: what the
reader should see>"``; the cell's printed lines (or, if it prints none, those of the latest code cell above it
that does) go under the figure as the numbers that back it, so the page shows the numbers of the same run as the
pictures. :func:`write_gallery` is called by the runner after a full
``make course`` and works on any folder of executed notebooks.
"""

from __future__ import annotations

import html
from pathlib import Path

import nbformat

IMAGE_TYPES = ("image/png", "image/jpeg")


def gallery_items(notebook: Path) -> list[dict]:
    """The gallery cells of one executed notebook: ``[{"notebook", "caption", "images": [(mime, base64)],
    "measured": str}]``, in cell order; a cell with no image output (not executed) is left out."""
    notebook = Path(notebook)
    if not notebook.is_file():
        raise FileNotFoundError(f"notebook {str(notebook)!r} does not exist: expected an executed notebook such as "
                                "build/course/02_optimize_image_wrt_neuron.ipynb (run `make course`)")
    nb = nbformat.read(notebook, as_version=4)
    items, printed = [], ""  # printed: the latest code cell's printed lines, for a figure cell that prints none
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        images, text = [], []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            images += [(mime, data[mime]) for mime in IMAGE_TYPES if mime in data][:1]
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                text.append(out.get("text", ""))
        text = "".join(text).strip()
        caption = cell.get("metadata", {}).get("gallery")
        if caption and images:
            items.append({"notebook": notebook.name, "caption": str(caption), "images": images,
                          "measured": text or printed})
        printed = text or printed
    return items


def write_gallery(folder: Path, out: Path | None = None) -> Path:
    """Write ``gallery.html`` (self-contained: images inlined) from the executed ``NN_*.ipynb`` in ``folder``
    and return its path; raises ``FileNotFoundError`` if the folder holds no executed notebook."""
    folder = Path(folder)
    notebooks = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no executed notebooks (NN_*.ipynb) in {str(folder)!r}: run `make course` first")
    out = Path(out or folder / "gallery.html")
    parts = ["<!doctype html><meta charset='utf-8'><title>See inside CNNs: the gallery</title>",
             "<style>body{font:18px/1.45 system-ui,sans-serif;max-width:1400px;margin:2em auto;padding:0 1em}"
             "figure{margin:0 0 3em}img{max-width:100%;display:block;margin:.4em 0}"
             "figcaption{font-size:20px}pre{background:#f4f4f4;padding:.5em;font-size:15px;white-space:pre-wrap}"
             "h2{margin-top:2em;border-bottom:1px solid #ccc}</style>",
             "<h1>See inside CNNs: the gallery</h1>",
             "<p>Every generative figure of the course at full size, from the run that wrote this page. Under each: "
             "what to see, and the numbers that back it (printed by the same cell).</p>"]
    count = 0
    for notebook in notebooks:
        items = gallery_items(notebook)
        if items:
            parts.append(f"<h2>{html.escape(notebook.stem)}</h2>")
        for item in items:
            count += 1
            parts.append(f"<figure><figcaption>{html.escape(item['caption'])}</figcaption>")
            parts += [f"<img src='data:{mime};base64,{data.strip()}' alt='{html.escape(item['caption'])}'>"
                      for mime, data in item["images"]]
            if item["measured"]:
                parts.append(f"<pre>{html.escape(item['measured'])}</pre>")
            parts.append("</figure>")
    if not count:
        parts.append("<p>No gallery cells in these notebooks.</p>")
    out.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return out
