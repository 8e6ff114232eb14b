from crisis.cli import main

main()
