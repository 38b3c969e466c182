"""``python -m examples.k8s_agent [--approve|--reject] [--model provider:model]``."""

import sys

from .demo import main

sys.exit(main())
