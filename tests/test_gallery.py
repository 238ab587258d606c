"""The gallery page: captions from cell metadata, images inlined, the numbers printed by the same run."""

import base64

import nbformat
import pytest

from course_utils.gallery import gallery_items, write_gallery
from course_utils.runner import course_notebooks

PNG = base64.b64encode(b"\x89PNG fake bytes").decode()


def _executed(path, cells):
    nb = nbformat.v4.new_notebook()
    for source, outputs, caption in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.outputs = [nbformat.from_dict(o) for o in outputs]
        if caption:
            cell.metadata["gallery"] = caption
        nb.cells.append(cell)
    nbformat.write(nb, path)


def _stdout(text):
    return {"output_type": "stream", "name": "stdout", "text": text}


def _image():
    return {"output_type": "display_data", "data": {"image/png": PNG}, "metadata": {}}


def test_gallery_takes_captioned_figures_with_their_numbers(tmp_path):
    _executed(tmp_path / "02_a.ipynb", [
        ("print(1)", [_stdout("drive 2.5x\n")], None),
        ("plot()", [_image()], "renders <at> three depths"),  # prints nothing: the cell above's numbers
        ("plot(); print(2)", [_stdout("similarity 0.41\n"), _image()], "diversity"),
        ("plot()", [_image()], None),  # no caption: not in the gallery
        ("plot()", [], "not executed"),  # no image: left out
    ])
    items = gallery_items(tmp_path / "02_a.ipynb")
    assert [(i["caption"], i["measured"]) for i in items] == [("renders <at> three depths", "drive 2.5x"),
                                                              ("diversity", "similarity 0.41")]
    page = write_gallery(tmp_path).read_text()
    assert page.count("<figure>") == 2 and f"data:image/png;base64,{PNG}" in page
    assert "renders &lt;at&gt; three depths" in page and "drive 2.5x" in page  # escaped, with its numbers


def test_gallery_of_an_empty_folder_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="make course"):
        write_gallery(tmp_path)


def test_the_generative_notebooks_put_figures_in_the_gallery():
    captioned = {nb.name[:2] for nb in course_notebooks()
                 if any(c.get("metadata", {}).get("gallery") for c in nbformat.read(nb, as_version=4).cells)}
    assert {"02", "03", "04", "07", "08"} <= captioned
