"""``python -m speech_realtime``."""

import sys

from .cli import main

sys.exit(main())
