"""``python -m data_gen`` is the same as ``panda-lite-generate``."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
