"""Command line: ``python -m course_utils download-weights NAME [NAME ...]`` (needs the network),
``python -m course_utils info`` (which models and data this machine has) and
``python -m course_utils predict [PHOTO ...]`` (the real network's top 5 for sample photos, all by default)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from course_utils import base, models

    parser = argparse.ArgumentParser(prog="python -m course_utils")
    sub = parser.add_subparsers(dest="command", required=True)
    dl = sub.add_parser("download-weights", help="cache ImageNet weights and class names for offline use")
    dl.add_argument("names", nargs="+", choices=models.IMAGENET_MODELS)
    sub.add_parser("info", help="say which models and data are available here")
    pr = sub.add_parser("predict", help="top-5 classes of efficientnet_lite0 for sample photos (default: all)")
    pr.add_argument("photos", nargs="*", help="sample photo names (data/images), e.g. chelsea coffee")
    pr.add_argument("--top", type=int, default=5)
    args = parser.parse_args(argv)
    if args.command == "predict":
        return _predict(args.photos, args.top)
    if args.command == "download-weights":
        if not models.network_available():
            print(f"The network does not answer ({base.NETWORK_HOST[0]}): connect and try again.", file=sys.stderr)
            return 1
        for name in args.names:
            models.load_model(name, verbose=False)
            print(f"{name}: weights cached at {models.weights_path(name)}")
        return 0
    from course_utils.data import load_fashion_mnist

    for name in models.PHOTO_MODELS:
        try:
            from course_utils.efficientnet import weights_source

            print(f"{name:14s} real ImageNet weights, offline: {weights_source()}")
        except ImportError as e:
            print(f"{name:14s} not available: {e}")
    for name in models.IMAGENET_MODELS:
        cached = models.weights_path(name).exists()
        print(f"{name:14s} ImageNet weights {'cached' if cached else 'not cached'}")
    for name in models.BUNDLED_MODELS:
        print(f"{name:14s} bundled, {models.MODELS_DIR / (name + '.keras')}")
    for kind in models.AUTO:
        print(f"auto ({kind}): {'%s because %s' % models.choose_auto(kind)}")
    print(f"Fashion-MNIST train items: {len(load_fashion_mnist('train')[0])}")
    return 0


def _predict(photos: list[str], top: int) -> int:
    """Print a markdown table of ``efficientnet_lite0``'s top ``top`` classes for sample photos."""
    import numpy as np

    from course_utils.images import load_sample, sample_names
    from course_utils.models import load_model

    if top < 1:
        print(f"--top {top}: expected 1 or more", file=sys.stderr)
        return 2
    photos = photos or sample_names()
    unknown = sorted(set(photos) - set(sample_names()))
    if unknown:
        print(f"unknown photos {unknown}: expected some of {sample_names()}", file=sys.stderr)
        return 2
    cm = load_model("efficientnet_lite0", verbose=False)
    probs = cm.predict(np.stack([load_sample(name, cm.input_size[0]) for name in photos]))
    print(f"| photo | top-{top} of {cm.name} (probability) |\n|---|---|")
    for name, row in zip(photos, cm.decode(probs, top=top)):
        print(f"| {name} | " + "; ".join(f"{c} {p:.2f}" for c, p in row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
