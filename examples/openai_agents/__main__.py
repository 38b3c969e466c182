"""``python -m examples.openai_agents``: see demo.py."""

import sys

from examples.openai_agents.demo import main

sys.exit(main())
