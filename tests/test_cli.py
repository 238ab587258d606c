"""python -m course_utils: info and predict (offline)."""

from course_utils.__main__ import main


def test_predict_prints_the_real_networks_top5(capsys):
    assert main(["predict", "chelsea", "coffee"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "| photo | top-5 of efficientnet_lite0 (probability) |"
    chelsea = next(line for line in out if line.startswith("| chelsea |"))
    assert any(cat in chelsea.split(";")[i] for i in range(3) for cat in ("tabby", "tiger cat", "Egyptian cat"))
    coffee = next(line for line in out if line.startswith("| coffee |"))
    assert coffee.startswith("| coffee | espresso ") and coffee.count(";") == 4


def test_predict_names_bad_arguments(capsys):
    assert main(["predict", "unicorn"]) == 2
    assert "unknown photos ['unicorn']" in capsys.readouterr().err
    assert main(["predict", "--top", "0"]) == 2
    assert "--top 0: expected 1 or more" in capsys.readouterr().err


def test_info_names_the_models(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "efficientnet_lite0" in out and "fashion_vgg" in out
