from dpo_portal.cli.main import main

raise SystemExit(main())
