import sys

from tasks.tune.stage import main

sys.exit(main())
