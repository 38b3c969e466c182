"""``python -m agent_safe ...``: the ``agent-safe`` command line, run in this interpreter.

The same CLI as the installed ``agent-safe`` command (which is the native
binary), for environments where only the interpreter is on hand.
"""

from agent_safe._cli import main

main()
