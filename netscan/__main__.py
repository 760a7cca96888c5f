from netscan.cli import main

raise SystemExit(main())
