import sys

from kafka_eos.cli.main import main

sys.exit(main())
