from skelssl.cli import main

raise SystemExit(main())
