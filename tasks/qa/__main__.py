import sys

from tasks.qa.stage import main

sys.exit(main())
