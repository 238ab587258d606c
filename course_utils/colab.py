"""The guarded set-up cell every notebook starts with: on Colab it clones the course and installs
``course_utils`` (Colab keeps its own TensorFlow and ipywidgets 7); anywhere else it does nothing.

The repository address comes from :data:`course_utils.REPO_URL`, the one place it is written;
``tests/test_repository.py`` checks that every notebook carries exactly :func:`setup_cell`.
"""

from __future__ import annotations

from course_utils import REPO_URL

_TEMPLATE = '''# Setup: on Colab, fetch the course and its library (elsewhere this cell does nothing).
import sys
if "google.colab" in sys.modules:
    !git clone -q --depth 1 {url} /content/course
    !pip install -q -e /content/course
    sys.path.insert(0, "/content/course")
    %cd /content/course/notebooks'''


def setup_cell(url: str = REPO_URL) -> str:
    """Source of the notebooks' first code cell."""
    return _TEMPLATE.format(url=url)
