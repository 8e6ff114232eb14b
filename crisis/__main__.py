from crisis.cli.main import main

main()
