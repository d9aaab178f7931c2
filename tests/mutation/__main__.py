"""python -m tests.mutation: see tests/mutation/run.py."""

from tests.mutation.run import main

if __name__ == "__main__":  # not again in the fork server, which imports this module
    raise SystemExit(main())
