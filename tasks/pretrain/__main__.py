import sys

from tasks.pretrain.stage import main

sys.exit(main())
