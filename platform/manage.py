#!/usr/bin/env python
"""Django's command-line entry point. `platform/` is the source root, so this file's folder is on sys.path."""

import os
import sys
from pathlib import Path


def main() -> None:
    # The repository root holds `dashboards/`; append it (after the stdlib) so it is importable too.
    sys.path.append(str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
