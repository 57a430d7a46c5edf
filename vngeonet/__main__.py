from vngeonet.cli.main import main

raise SystemExit(main())
