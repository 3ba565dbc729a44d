import sys

from otmodel.cli import main

sys.exit(main())
