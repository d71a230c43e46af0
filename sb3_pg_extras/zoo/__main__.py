"""``python -m sb3_pg_extras.zoo <script> [rl_zoo3 arguments]``: see :func:`sb3_pg_extras.zoo.cli.main`."""

from sb3_pg_extras.zoo.cli import main

main()
