"""Regenerate ``docs/features.md`` from the registry:  python -m simbox.features.make_docs"""
import os
import sys

from simbox.features.registry import markdown

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "features.md")


def main(argv=None) -> int:
    path = (argv or sys.argv[1:] or [DOC])[0]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(markdown())
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
